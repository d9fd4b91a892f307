"""Answerability: does the evidence answer the question, judged after the reader has answered from it?

A logistic regression over what is known once the reader has drafted and verification has run (`Signals`): the
reader's probability of "no answer" at its first token, how sure it was of the tokens it wrote, whether its answer
copies words of the sentence it cites, whether verification kept it, how close the best sentence is to the question
and how much of the question's rarer words the cited sentence holds, whether question and sentence are in different
languages, and whether a question that asks for a number got one. The weights, the feature scaling and the threshold
are package data (`data/answerability.json`), fitted on the training set's fit part and the threshold chosen on its
choose part (`python -m evals fit answerability`, evals/fit.py): the file says which. `Answerability.reason` is the
`answerability` refusal check (checks.py).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from . import lang
from .quantities import quantities
from .bm25 import analyze

__all__ = ["Signals", "signals", "Model", "model", "asks_for_number", "FEATURES"]

FEATURES = ("log_p_none", "mean_logprob", "min_logprob", "copied", "verified", "support", "support_gap", "coverage",
            "cross_lingual", "number_missing")
_FLOOR = 1e-6  # probabilities are read on a log scale from here up
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


@lru_cache(maxsize=1)
def _number_cues() -> tuple[re.Pattern, ...]:
    """The phrases that ask for a number, of every table language (data/languages.json `number_questions`)."""
    phrases = sorted({lang.fold(p) for code in lang.LANGUAGES for p in lang.table(code).get("number_questions", ())},
                     key=len, reverse=True)
    return tuple(re.compile(rf"(?<!\w){re.escape(p)}(?!\w)") for p in phrases)


def asks_for_number(question: str) -> bool:
    """Does the question ask how many, how much, what share ("quantos", "combien", "what percentage")?"""
    folded = lang.fold(question)
    return any(p.search(folded) for p in _number_cues())


@dataclass(frozen=True)
class Signals:
    """The features of one answered question, in `FEATURES` order."""

    log_p_none: float
    mean_logprob: float
    min_logprob: float
    copied: float
    verified: float
    support: float
    support_gap: float
    coverage: float
    cross_lingual: float
    number_missing: float

    def vector(self) -> list[float]:
        """The features in FEATURES order."""
        return [getattr(self, name) for name in FEATURES]

    def to_dict(self) -> dict[str, float]:
        return {name: round(getattr(self, name), 6) for name in FEATURES}


def _coverage(question: str, sentence: str, idf: dict[str, float], groups: dict[str, set[str]]) -> float:
    """IDF-weighted share of the question's terms the sentence holds, directly or through a cross-lingual neighbour."""
    terms = groups or {t: {t} for t in analyze(question)}
    if not terms:
        return 0.0
    unseen = max(idf.values(), default=1.0)
    stems = set(analyze(sentence))
    weight = {t: idf.get(t, unseen) for t in terms}
    total = sum(weight.values()) or 1.0
    return sum(weight[t] for t, alternatives in terms.items() if alternatives & stems) / total


@dataclass(frozen=True)
class Reply:
    """What the reader replied and what verification made of it: `answer`, the verified answer, else the draft;
    `cited`, the numbers the verified answer cites (empty when verification kept nothing); whether it `copied` words
    of a sentence; its probability of "no answer" at its first token, and of each token it wrote."""

    answer: str
    cited: list[int]
    copied: bool
    p_none: float | None
    token_probabilities: list[float]


def signals(question: str, language: str, evidence, reply: Reply, idf: dict[str, float],
            groups: dict[str, set[str]]) -> Signals:
    """The features of one reply to `question` over `evidence`, the numbered sentences shown (Evidence, [1]
    first); `idf` and `groups` (the question's terms and their cross-lingual neighbours) weigh what the cited
    sentence holds of the question."""
    answer, cited, p_none = reply.answer, reply.cited, reply.p_none
    token_probabilities, copied = reply.token_probabilities, reply.copied
    logs = [math.log(max(p, _FLOOR)) for p in token_probabilities] or [0.0]
    supports = sorted((ev.support for ev in evidence), reverse=True) or [0.0]
    sentence = evidence[cited[0] - 1] if cited else evidence[0]
    number_missing = asks_for_number(question) and not quantities(_MARKER.sub(" ", answer), language, words=True)
    return Signals(
        log_p_none=math.log10(max(p_none if p_none is not None else 0.0, _FLOOR)),
        mean_logprob=sum(logs) / len(logs),
        min_logprob=min(logs),
        copied=float(copied),
        verified=float(bool(cited)),
        support=supports[0],
        support_gap=supports[0] - (supports[1] if len(supports) > 1 else supports[0]),
        coverage=_coverage(question, sentence.text, idf, groups),
        cross_lingual=float(sentence.language != language),
        number_missing=float(number_missing),
    )


@dataclass(frozen=True)
class Model:
    """P(unanswerable) = sigmoid(intercept + sum(weight * (feature - mean) / scale)); refuse at `threshold`."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    intercept: float
    threshold: float
    chosen: str  # which training split fitted it and which chose the threshold

    def probability(self, found: Signals) -> float:
        """P(unanswerable) of one reply's features."""
        z = self.intercept + sum(w * (x - m) / s for w, x, m, s in zip(self.weights, found.vector(), self.means,
                                                                       self.scales))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "weights": list(self.weights), "means": list(self.means),
                "scales": list(self.scales), "intercept": self.intercept, "threshold": self.threshold,
                "chosen": self.chosen}

    @classmethod
    def from_dict(cls, data: dict) -> "Model":
        if data.get("features") != list(FEATURES):
            raise ValueError(f"the answerability model was fitted on features {data.get('features')}, "
                             f"this code computes {list(FEATURES)}: fit it again (python -m evals fit answerability)")
        return cls(tuple(data["weights"]), tuple(data["means"]), tuple(data["scales"]), float(data["intercept"]),
                   float(data["threshold"]), str(data["chosen"]))


@lru_cache(maxsize=1)
def model() -> Model:
    """The fitted model shipped with the package (data/answerability.json)."""
    raw = resources.files("assistant").joinpath("data/answerability.json").read_text(encoding="utf-8")
    return Model.from_dict(json.loads(raw))
