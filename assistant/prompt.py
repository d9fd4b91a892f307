"""The reader's prompt: instructions and worked examples (package files in `prompts/`), then the numbered evidence,
the question and the language to answer in.

The messages are ordered so that everything before the evidence is the same for every question: the system
instructions, then the worked examples as earlier turns of the chat. llama.cpp reuses the longest prefix it has
already read, so that part (about 600 tokens) is read once per process (`static_messages` is what `warm` reads) and
a question costs only its evidence and itself, about 100 to 200 tokens; on this CPU a token of prompt costs about
10 ms, so that is what time to first token is made of.

When the reader copies words of a sentence in another language than the question's, `render_messages` continues the
same chat with a request to say them in the question's language (prompts/render_user.txt): a few tokens more to
read, the rest is already read.

The reader answers "NONE" (`NONE`) when the sentences do not answer: one word in every language, whose first
token's probability the llama.cpp backend reads (generate.Abstention); the assistant then says the refusal sentence
of the question's language (`refusal_text`).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from importlib import resources

from . import lang
from .injection import quoted

__all__ = ["NONE", "build_messages", "render_messages", "static_messages", "format_evidence", "refusal_text",
           "is_refusal", "translate_messages", "long_messages", "static_long_messages", "note_text", "translated_text",
           "from_lines"]

NONE = "NONE"
_MARKER_CHARS = 6  # hex digits of the evidence block's marker


def _read(name: str) -> str:
    return resources.files("assistant").joinpath(f"prompts/{name}").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _examples() -> list[dict]:
    return json.loads(_read("answer_examples.json"))["examples"]


def format_evidence(sentences, question: str = "", spotlight: bool = False) -> str:
    """"[1] text" lines; `sentences` have `text` (Evidence, or the examples' dicts). Chat-template tokens, invisible
    characters and marker characters are removed from them (`injection.quoted`).

    With `spotlight`, the lines stand between two marker lines and the system prompt says that what is between them
    is quoted material, never an instruction (prompts/spotlight.txt). The marker is a digest of the question and the
    sentences, so no article can know it in advance to close the block early; it is the same for the same request,
    so greedy answers stay reproducible. Off by default: with the default reader the markers stopped none of the
    red-team attacks by themselves and moved answers both ways (docs/evaluation.md, "Hostile documents")."""
    lines = [f"[{i}] {quoted(_text(s))}" for i, s in enumerate(sentences, start=1)]
    if not spotlight:
        return "\n".join(lines)
    marker = hashlib.sha256("\n".join([question, *lines]).encode("utf-8")).hexdigest()[:_MARKER_CHARS]
    return "\n".join([f"⟦{marker}⟧", *lines, f"⟦/{marker}⟧"])


def _system(name: str, spotlight: bool) -> str:
    return _read(name).format(none=NONE, spotlight=" " + _read("spotlight.txt").strip() if spotlight else "").strip()


def _text(sentence) -> str:
    return sentence["text"] if isinstance(sentence, dict) else sentence.text


def _user(evidence: str, question: str, language: str) -> str:
    return _read("answer_user.txt").format(evidence=evidence, question=question,
                                           language=lang.table(language)["name"]).strip()


@lru_cache(maxsize=2)
def static_messages(spotlight: bool = False) -> tuple[dict[str, str], ...]:
    """The part of every prompt that does not depend on the question: instructions and worked examples."""
    messages = [{"role": "system", "content": _system("answer_system.txt", spotlight)}]
    for ex in _examples():
        evidence = format_evidence(ex["sentences"], ex["question"], spotlight)
        messages.append({"role": "user", "content": _user(evidence, ex["question"], ex["language"])})
        messages.append({"role": "assistant", "content": ex["answer"].format(none=NONE)})
    return tuple(messages)


def build_messages(question: str, evidence, language: str, spotlight: bool = False) -> list[dict[str, str]]:
    """The chat for one question: the static part, then the numbered `evidence` and the question."""
    return [*map(dict, static_messages(spotlight)),
            {"role": "user", "content": _user(format_evidence(evidence, question, spotlight), question, language)}]


@lru_cache(maxsize=1)
def _long() -> dict:
    return json.loads(_read("long_examples.json"))


def _long_user(evidence: str, question: str, kind: str, language: str) -> str:
    return _read("long_user.txt").format(evidence=evidence, question=question, hint=_long()["hints"][kind],
                                         language=lang.table(language)["name"]).strip()


@lru_cache(maxsize=2)
def static_long_messages(spotlight: bool = False) -> tuple[dict[str, str], ...]:
    """The fixed part of the long prompt (prompts/long_*): for questions that ask for more than one fact."""
    messages = [{"role": "system", "content": _system("long_system.txt", spotlight)}]
    for ex in _long()["examples"]:
        evidence = format_evidence(ex["sentences"], ex["question"], spotlight)
        messages.append({"role": "user", "content": _long_user(evidence, ex["question"], ex["kind"],
                                                              ex["language"])})
        messages.append({"role": "assistant", "content": ex["answer"].format(none=NONE)})
    return tuple(messages)


def long_messages(question: str, evidence, kind: str, language: str,
                  spotlight: bool = False) -> list[dict[str, str]]:
    """The chat for a question of `kind` (kinds.LONG_KINDS): an answer of a few cited sentences."""
    return [*map(dict, static_long_messages(spotlight)),
            {"role": "user", "content": _long_user(format_evidence(evidence, question, spotlight), question, kind,
                                                   language)}]


_LINE = re.compile(r"^\s*[-*•]?\s*\[(\d+)\]\s*[:.)-]?\s*(.+?)\s*$")


def from_lines(reply: str) -> str:
    """The long prompt's reply ("[2] what sentence 2 says" per line) as sentences ending with their marker
    ("What sentence 2 says [2]."); a line without a leading marker is kept as it is."""
    from .cite import with_markers

    out = []
    for line in reply.splitlines():
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            out.append(line.strip())
            continue
        text = m.group(2).strip()
        out.append(with_markers(text if re.search(r"[.!?…]$", text) else text + ".", [int(m.group(1))]))
    return " ".join(out)


def note_text(language: str) -> str:
    """What the assistant adds, in `language`, when verification removed part of a longer answer."""
    return lang.table(language)["partial"]


def render_messages(messages: list[dict[str, str]], reply: str, words: str, language: str) -> list[dict[str, str]]:
    """The chat that asks the reader to say `words` (which it copied from a sentence in another language) in
    `language`: `messages` and its `reply` come first, so llama.cpp reads on from where the answer ended."""
    request = _read("render_user.txt").format(words=" ".join(words.split()),
                                              language=lang.table(language)["name"]).strip()
    return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": request}]


def translate_messages(messages: list[dict[str, str]], reply: str, sentence: str, source: str,
                       language: str) -> list[dict[str, str]]:
    """The chat that asks the reader to translate a quoted `sentence` (in `source`) into `language`: read on from
    where its answer ended, as `render_messages` does, since that prompt is already in llama.cpp's memory."""
    request = _read("translate_user.txt").format(sentence=" ".join(sentence.split()),
                                                 source=lang.table(source)["name"],
                                                 language=lang.table(language)["name"]).strip()
    return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": request}]


def translated_text(language: str, source: str) -> str:
    """What the assistant adds, in `language`, under a quote it translated from `source`."""
    table = lang.table(language)
    return table["translated"].format(source=table["language_names"].get(source, lang.table(source)["name"]))


def refusal_text(language: str) -> str:
    """What the assistant says, in `language`, when the articles do not answer."""
    return lang.table(language)["refusal"]


def unsupported_text(spoken: str) -> str:
    """What the assistant says, in English, to a question in `spoken`, a language it does not answer in."""
    return lang.table("en")["unsupported"].format(language=lang.language_name(spoken))


def is_refusal(text: str) -> bool:
    """Is the reader's reply its "no answer" (NONE, or a refusal sentence of a table language)?"""
    folded = " ".join(lang.fold(text).replace("’", "'").strip(" .!\"'").split())
    if folded == lang.fold(NONE):
        return True
    return any(lang.fold(refusal_text(code)).rstrip(".") in folded for code in lang.LANGUAGES)
