"""What `Assistant.stream` yields: `Draft` pieces while the reader writes, then the final `Answer` with its
`Citation`s; and the quote that replaces an answer that fails verification.

The quote (`extractive`): when no sentence of the reader's answer survives verification (answer_mode "auto"), or
when answer_mode is "extractive", the answer quotes the best evidence sentence, cited, in the article's language.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .chunk import Passage, Span
from .evidence import Evidence

__all__ = ["Draft", "Citation", "Withheld", "Answer", "extractive", "citation", "withheld_line", "GENERATED",
           "EXTRACTIVE", "REFUSED"]

# What produced an answer (`Answer.mode`): the reader's verified words, a quote of the best sentence, or a refusal.
# config.ANSWER_MODES names the first two too, as what a user may ask for.
GENERATED, EXTRACTIVE, REFUSED = "generated", "extractive", "refused"


@dataclass(frozen=True)
class Draft:
    """A piece of the reader's draft, as it streams in. The final `Answer.text` is what survived verification.
    `restart`: the pieces before this one are withdrawn, and what follows replaces them (the translation of a quote,
    after a draft that did not hold up)."""

    text: str
    restart: bool = False


@dataclass(frozen=True)
class Citation(Span):
    """`[number]` in the answer text points at `text`, the sentence `article.text[start:end]` of `source`. When the
    answer copies words of that sentence (cite.py), they are `article.text[answer_start:answer_end]`; both are -1
    when it says them in other words or another language."""

    number: int
    score: float
    answer_start: int = -1
    answer_end: int = -1
    page: int = 0  # the page of a PDF the sentence is on (from 1); 0 for articles without pages


@dataclass(frozen=True)
class Withheld:
    """A sentence of the retrieved passages kept from the reader, and why (injection.py: it addresses AI models)."""

    source: str
    start: int
    end: int
    text: str
    reason: str


@dataclass
class Answer:
    """What `ask` returns: the answer text with its markers, the citations, the mode (generated, extractive,
    refused) and why, the question's language and kind, timings, and what the reader was shown."""

    question: str
    text: str
    citations: list[Citation]
    refused: bool
    language: str  # the language `text` is written in: the question's, or English for a question in another one
    mode: str  # GENERATED | EXTRACTIVE | REFUSED
    timings: dict[str, float] = field(default_factory=dict)  # seconds: retrieve, first_token, total, generation
    passages: list[Passage] = field(default_factory=list)  # what retrieval returned
    raw: str = ""  # the model's unverified text, when it was called
    evidence: list[Evidence] = field(default_factory=list)  # the numbered sentences the model was shown, [1] first
    tokens: int = 0  # pieces the model streamed (one per token for llama.cpp and OpenAI-compatible servers)
    refusal_reason: str = ""  # "<check>: <why>" when the answer is a refusal (checks.py), else empty
    dropped: list[tuple[str, str]] = field(default_factory=list)  # draft sentences verification removed, and why
    abstain_probability: float | None = None  # the reader's probability of "no answer" at its first token
    token_probabilities: list[float] = field(default_factory=list)  # of each token the reader wrote (llama.cpp)
    # {"probability": P(unanswerable), "features": {...}} of the answerability model (answerability.py), when computed
    answerability: dict = field(default_factory=dict)
    question_language: str = ""  # what lang.identify found in the question ("de", "und"); "" when nothing said
    kind: str = "fact"  # what the question asks for (kinds.py): "fact", or a kind answered in a few sentences
    note: str = ""  # said after `text` when verification removed part of a longer answer (in `language`)
    withheld: list[Withheld] = field(default_factory=list)  # retrieved sentences not shown to the reader, and why

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passages"] = [p.to_dict() for p in self.passages]
        d["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return d


def citation(number: int, ev: Evidence, copied: tuple[int, int] | None = None) -> Citation:
    """Citation `number` of evidence sentence `ev`; `copied`: the (start, end) in `ev.text` of the words the answer
    copies from it."""
    start, end = (ev.start + copied[0], ev.start + copied[1]) if copied else (-1, -1)
    return Citation(ev.source, ev.title, ev.language, ev.text, ev.start, ev.end, number=number, score=ev.score,
                    answer_start=start, answer_end=end)


def extractive(candidates: list[Evidence], best: Evidence | None = None) -> tuple[str, list[Citation]]:
    """Quote the best evidence sentence (`best`, else the first candidate), cited, in its article's language."""
    best = best or candidates[0]
    # " ".join(split()): a sentence joined across a line break (chunk.py) is quoted on one line
    return f"“{' '.join(best.text.split())}” [1]", [citation(1, best)]


def withheld_line(sources: list[str]) -> str:
    """'2 sentences of notes.txt were left out: they give an AI model orders.' ("" for none)"""
    if not sources:
        return ""
    files = ", ".join(dict.fromkeys(sources))
    n = len(sources)
    return (f"{n} sentence{'s' if n > 1 else ''} of {files} {'were' if n > 1 else 'was'} left out: "
            f"{'they give' if n > 1 else 'it gives'} an AI model orders.")
