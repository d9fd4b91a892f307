"""Text generators: chat messages in, streamed text pieces out.

`Generator` has one abstract method, `stream(messages, max_tokens, abstain=None)`, yielding text pieces. Decoding
is greedy everywhere (temperature 0), so the same prompt gives the same answer. Backends by name (`GENERATORS`):

- `llama-cpp`: a GGUF file run in-process by llama.cpp (`llama-cpp-python`), with the chat template stored in the
  GGUF and as many threads as the machine has cores. Which file: `config.model`, a reader name or a path
  (readers.py). llama.cpp keeps the evaluated prompt and reuses its longest common prefix on the next call, so the
  prompt's fixed part (instructions and worked examples, prompt.py) is read once per process: `warm` reads it at load.
  Before each prompt only that part is kept, so every question is read from the same position in the same batches:
  the same question gets the same answer whatever was asked before. A prompt that continues the previous one (its
  messages, then more: the reader's reply and a follow-up request) is read on from where that one ended.
- `openai`: any server speaking the OpenAI chat-completions protocol (llama.cpp's server, vLLM, Ollama), at
  `server_url`, streaming by server-sent events. The API key, if the server wants one, is read from
  `$OPENAI_API_KEY`.

Abstaining: with an `Abstention`, the llama.cpp backend reads the probability that the reply starts with the
abstention word (prompt.py's NONE) at the first token, records it, and then either forces that word (probability at
or above the threshold) or forbids it (below): one calibrated decision instead of whatever greedy decoding picks. It
also records the probability of each token greedy decoding then chooses (`token_probabilities`): how sure the reader
was of what it wrote, which the answerability decision reads (answerability.py). A server's reply is taken as
written (`probability` stays None, `token_probabilities` empty).

Loading problems (no file, not a GGUF, a file llama.cpp rejects, a server that does not answer or does not speak
the protocol) raise `ModelError`.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .errors import ModelError
from .readers import READERS, model_file, reader_for

__all__ = ["Generator", "LlamaCppGenerator", "OpenAIGenerator", "GENERATORS", "make_generator", "Abstention"]

Messages = list[dict[str, str]]


@dataclass
class Abstention:
    """The reply's first token decides: `word` (the reader's "no answer") when its probability reaches
    `threshold`, anything else otherwise. The backend fills in `probability` when it can read it."""

    word: str
    threshold: float
    probability: float | None = None
    token_probabilities: list[float] = field(default_factory=list)  # of each token chosen, in order


class Generator(ABC):
    """A reader: streams a reply to chat messages, greedily; `warm` reads a prompt's fixed part once."""

    name: str = ""
    description: str = ""  # what is loaded, for the UI and reports
    reads: bool = True  # False: a model whose drafts are not expected to pass verification (readers.py)

    @abstractmethod
    def stream(self, messages: Messages, max_tokens: int, abstain: Abstention | None = None) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece, greedily decoded. `messages` may continue the previous call's
        (its messages, the reply, a new request): a backend that keeps state reads on from there."""

    def warm(self, messages: Messages) -> None:
        """Read the fixed part of the prompt now, so the first question does not pay for it (where that helps)."""

    def for_prompt(self, fixed: Messages) -> "Generator":
        """The generator to use for prompts that start with `fixed` (another prompt's instructions and examples):
        this one, unless the backend keeps a read prompt per context (llama.cpp)."""
        return self


class LlamaCppGenerator(Generator):
    """A GGUF reader run in this process by llama.cpp, which also measures its probability of "no answer"."""

    name = "llama-cpp"

    @property
    def llm(self):
        """The llama.cpp model itself (benchmarks time it raw, beside the assistant)."""
        return self._llm

    @property
    def warmed(self) -> list[int]:
        """The tokens `warm` read: the prompt's fixed part, kept in llama.cpp's cache between questions."""
        return list(self._warmed)

    def __init__(self, config) -> None:
        reader = reader_for(config.model)
        path = model_file(config)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelError(f"{path} is not a GGUF model file (llama.cpp needs GGUF)")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError("the llama-cpp generator needs: pip install llama-cpp-python") from None
        try:
            self._llm = Llama(model_path=str(path), n_ctx=config.context_tokens,
                              n_threads=config.threads or os.cpu_count(), seed=0, verbose=False,
                              flash_attn=True)  # ~5% faster prompt reading on this CPU
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {path.name}: {exc}") from None
        self.reads = reader.reads
        self._config = config
        self._siblings: dict[str, Generator] = {}
        self.description = f"{reader.name if reader.name in READERS else path.name} (llama.cpp, {path.name})"
        self.path = path
        self._warmed: list[int] = []  # the tokens `warm` read
        self._fixed = 0  # how many of them every prompt shares (known after the first question)
        self._last: Messages | None = None  # the previous prompt, which a continuation extends

    def _first_token(self, word: str) -> int:
        return self._llm.tokenize(word.encode(), add_bos=False, special=False)[0]

    def stream(self, messages: Messages, max_tokens: int, abstain: Abstention | None = None) -> Iterator[str]:
        processors = None
        if abstain is not None:
            from llama_cpp import LogitsProcessorList

            token, decided = self._first_token(abstain.word), []
            abstain.token_probabilities.clear()

            def chosen(scores) -> float:
                """The probability of the token greedy decoding picks from these scores."""
                top = float(scores.max())
                return float(1.0 / np.exp(scores.astype(np.float64) - top).sum())

            def decide(input_ids, scores):
                if decided:
                    abstain.token_probabilities.append(chosen(scores))
                    return scores
                decided.append(True)
                logits = scores.astype(np.float64)
                p = float(np.exp(logits[token] - logits.max()) / np.exp(logits - logits.max()).sum())
                abstain.probability = p
                if p >= abstain.threshold:
                    forced = np.full_like(scores, -np.inf)
                    forced[token] = scores[token]
                    abstain.token_probabilities.append(1.0)
                    return forced
                scores[token] = -np.inf
                abstain.token_probabilities.append(chosen(scores))
                return scores

            processors = LogitsProcessorList([decide])
        continues = self._last is not None and len(messages) > len(self._last) and \
            messages[:len(self._last)] == self._last
        if not continues:
            self._forget_question()
        self._last = [dict(m) for m in messages]
        try:
            chunks = self._llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                                      top_k=1, repeat_penalty=1.0, stream=True,
                                                      logits_processor=processors)
            for chunk in chunks:
                piece = chunk["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise ModelError(f"llama.cpp failed: {exc}") from None

    def _forget_question(self) -> None:
        """Keep only the prompt's fixed part in llama.cpp's memory. Otherwise the next prompt reuses whatever prefix
        it shares with this one (the same first evidence sentence, say) and is read from another position in other
        batches, whose sums round apart: greedy decoding then gave another answer to the same question after other
        questions (a refusal became "2000 euros." on an AVX2 CPU)."""
        if not self._warmed:  # nothing is fixed: every question is read from the start
            self._llm.n_tokens = 0
            return
        if not self._fixed:  # where the first question's tokens part from the warm-up's
            ids, shared = self._llm.input_ids[:self._llm.n_tokens].tolist(), 0
            while shared < min(len(ids), len(self._warmed)) and ids[shared] == self._warmed[shared]:
                shared += 1
            if shared == min(len(ids), len(self._warmed)):
                return  # nothing was read after the warm-up (the prompt was refused)
            self._fixed = shared
        self._llm.n_tokens = min(self._llm.n_tokens, self._fixed)

    def warm(self, messages: Messages) -> None:
        for _ in self.stream(messages, 1):
            pass
        self._warmed = self._llm.input_ids[:self._llm.n_tokens].tolist()

    def for_prompt(self, fixed: Messages) -> Generator:
        """A second llama.cpp context on the same file (the weights are memory-mapped, so shared: it costs its own
        KV cache, tens of MB), warmed with `fixed`: questions of either prompt then read only their own part, where
        one context would read the other prompt's 600-900 fixed tokens again (6-9 s here) at every switch."""
        key = json.dumps(fixed, sort_keys=True)
        if key not in self._siblings:
            sibling = LlamaCppGenerator(self._config)
            sibling.warm(list(fixed))
            self._siblings[key] = sibling
        return self._siblings[key]


class OpenAIGenerator(Generator):
    """Any OpenAI-compatible server (llama-server, Ollama, vLLM) at `server_url`."""

    name = "openai"

    def __init__(self, config) -> None:
        if not config.server_url:
            raise ModelError("the openai generator needs server_url, e.g. http://127.0.0.1:8080/v1")
        try:
            import httpx
        except ImportError:
            raise ModelError("the openai generator needs: pip install httpx") from None
        self._httpx = httpx
        self.url = config.server_url.rstrip("/") + "/chat/completions"
        self.model = config.server_model or "default"
        self.timeout = config.server_timeout
        self.description = f"OpenAI-compatible server: {config.server_url} ({self.model})"

    def stream(self, messages: Messages, max_tokens: int, abstain: Abstention | None = None) -> Iterator[str]:
        httpx = self._httpx
        headers = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"} if os.environ.get("OPENAI_API_KEY") else {}
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
                "stream": True}
        bad = f"the server at {self.url} did not speak the OpenAI streaming protocol"
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers, timeout=self.timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise ModelError(f"server at {self.url} answered {response.status_code}: "
                                     f"{_one_line(response.text)}")
                kind = response.headers.get("content-type", "")
                if "text/event-stream" not in kind and "json" not in kind:
                    raise ModelError(f"{bad} (it sent {kind.split(';')[0] or 'no content type'})")
                events = 0
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    events += 1
                    piece = _delta(json.loads(data))
                    if piece is None:
                        raise ModelError(bad)
                    if piece:
                        yield piece
                if not events:
                    raise ModelError(f"{bad} (no events in its reply)")
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model server at {self.url}: {_one_line(str(exc))}") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelError(bad) from None


def _delta(event) -> str | None:
    """The text of one streamed chat-completion event; None when the event is not one."""
    if not isinstance(event, dict):
        return None
    choices = event.get("choices")
    if not choices:
        return "" if isinstance(choices, list) else None  # a usage-only event has an empty list
    first = choices[0]
    if not isinstance(first, dict):
        return None
    delta = first.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line[:200] + ("…" if len(line) > 200 else "")


GENERATORS: dict[str, type[Generator]] = {LlamaCppGenerator.name: LlamaCppGenerator, OpenAIGenerator.name: OpenAIGenerator}


def make_generator(config) -> Generator:
    """The reader config `generator` names (GENERATORS); ConfigError for another name."""
    try:
        cls = GENERATORS[config.generator]
    except KeyError:
        raise ModelError(f"unknown generator {config.generator!r}; choose one of: {', '.join(GENERATORS)}") from None
    return cls(config)
