"""Refusal checks: each is a small object with a `name`, and its `reason` for refusing ("" when it lets the
question through). `Answer.refusal_reason` is "<name>: <reason>"; the web UI explains a refusal by that name.

In the order they run:
- `language` (before retrieval): the question is in a language the assistant does not answer in (lang.identify:
  German, Spanish, Italian, Dutch, or mostly another script). Answering would mean reading it as the nearest
  supported language.
- `evidence` (after retrieval, always on): the retrieved passages hold no sentence to answer from.
- `support` (before the reader): no sentence's support (evidence.py) reaches `refusal_threshold`: an off-topic
  question, refused without a model call.
- `names` (before the reader): the question names something no article mentions (mentions.py: "FIFA" asked of
  articles about Meta), which no sentence can answer however close it comes.
- `reader` (after the reader): the reader's probability of "no answer" at its first token reached
  `abstain_threshold`, or it wrote a refusal itself. Only for readers that read (generate.Generator.reads).
- `answerability` (after verification): the answerability model (answerability.py), fitted on the training set,
  gives the question a probability of being unanswerable from the evidence at or above its threshold. Only for
  readers that report token probabilities (llama.cpp).
- `verification` (after verification, always on, answer_mode = "generated" only): no sentence of the draft is
  supported by what it cites; in "auto" mode the answer quotes the best evidence sentence instead.

`language`, `support`, `names`, `reader` and `answerability` can be switched off for ablations (config `refusal_checks`); the other two guard
the steps after them (no evidence to show; nothing verified to say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import lang, prompt
from .config import REFUSAL_CHECKS
from .evidence import Evidence
from .generate import Abstention

__all__ = ["REFUSAL_CHECKS", "LanguageCheck", "EvidenceCheck", "SupportCheck", "NamesCheck", "ReaderCheck",
           "AnswerabilityCheck", "VerificationCheck"]



@dataclass(frozen=True)
class LanguageCheck:
    """Refuses a question in a language the assistant does not answer in (before retrieval)."""

    name: ClassVar[str] = "language"

    def reason(self, spoken: str | None) -> str:
        """`spoken`: what lang.identify found in the question (None: nothing; it is then answered in English)."""
        if spoken is None or spoken in lang.LANGUAGES:
            return ""
        supported = ", ".join(lang.language_name(code) for code in lang.LANGUAGES)
        found = ("mostly in a script none of them uses" if spoken == lang.UNDETERMINED
                 else f"in {lang.language_name(spoken)}")
        return f"the assistant answers in {supported}; the question is {found}"


@dataclass(frozen=True)
class EvidenceCheck:
    """Refuses when the retrieved passages hold no sentence to answer from."""

    name: ClassVar[str] = "evidence"

    def reason(self, candidates: list[Evidence]) -> str:
        return "" if candidates else "the retrieved passages hold no sentence to answer from"


@dataclass(frozen=True)
class SupportCheck:
    """Refuses when no sentence's support (closeness to the question) reaches `threshold`."""

    threshold: float
    name: ClassVar[str] = "support"

    def reason(self, candidates: list[Evidence]) -> str:
        best = max((c.support for c in candidates), default=float("-inf"))
        if best >= self.threshold:
            return ""
        return f"no sentence of the retrieved passages is close to the question (best {best:.3f}, needed {self.threshold:.3f})"


@dataclass(frozen=True)
class NamesCheck:
    """Refuses a question that names something no article mentions."""

    name: ClassVar[str] = "names"

    def reason(self, unmentioned: list[str]) -> str:
        """`unmentioned`: the question's names no article mentions (mentions.unmentioned)."""
        if not unmentioned:
            return ""
        return f"no article mentions {', '.join(repr(n) for n in unmentioned)}"


@dataclass(frozen=True)
class ReaderCheck:
    """Refuses when the reader says the evidence does not answer."""

    name: ClassVar[str] = "reader"

    def reason(self, abstain: Abstention | None, draft: str) -> str:
        """`abstain`: the first-token measurement (None for a reader that cannot read: its refusals are not
        trusted); `draft`: what the reader wrote."""
        if abstain is None:
            return ""
        p_none = abstain.probability
        if p_none is not None and p_none >= abstain.threshold:
            return f"the evidence does not answer (P(no answer) {p_none:.2f} >= {abstain.threshold:.2f})"
        return "it wrote that the evidence does not answer" if prompt.is_refusal(draft) else ""


@dataclass(frozen=True)
class AnswerabilityCheck:
    """Refuses when the answerability model's P(unanswerable) reaches `threshold`."""

    threshold: float
    name: ClassVar[str] = "answerability"

    def reason(self, p_unanswerable: float | None) -> str:
        """`p_unanswerable`: the answerability model's probability (None when it could not be computed)."""
        if p_unanswerable is None or p_unanswerable < self.threshold:
            return ""
        return (f"the evidence does not seem to answer (P(unanswerable) {p_unanswerable:.2f} >= "
                f"{self.threshold:.2f})")


@dataclass(frozen=True)
class VerificationCheck:
    """Refuses (answer_mode "generated") when no answer sentence held up."""

    name: ClassVar[str] = "verification"

    def reason(self, verified_text: str) -> str:
        return "" if verified_text else "no sentence of the reader's answer is supported by what it cites"
