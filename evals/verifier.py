"""The assistant's verifier (assistant/cite.py) measured on hand-labelled (question, claim, premise) pairs: its
signals for each pair, its verdicts at given thresholds, and the thresholds that give the most recall at a precision
of 0.95 (a verifier that lets one unsupported answer in twenty through is the most this product accepts), or, when
no setting reaches that, the most accurate ones (`most_accurate_verifier`: what config.py uses today)."""

from __future__ import annotations

from typing import Sequence

from assistant.cite import Signals, signals
from assistant.lang import detect_language

__all__ = ["verifier_parts", "verifier_verdicts", "calibrate_verifier", "most_accurate_verifier"]

_COVERAGES = (0.0, 0.2, 0.25, 0.3, 0.34, 0.4, 0.5, 0.6, 0.67, 0.75, 0.8, 1.0)
_SIMILARITIES = tuple(round(0.6 + i * 0.01, 2) for i in range(36))


def verifier_parts(assistant, pairs, others=None) -> list[Signals]:
    """The verifier's signals for each pair, with the assistant's embedder and cross-lingual neighbours (those of
    `others[p.corpus]`, an assistant over another corpus, "outside" or "train", for the pairs whose premise comes
    from there)."""
    others = others or {}
    out = []
    for p in pairs:
        a = others.get(p.corpus, assistant)
        vectors = a.embedder.embed([f"{p.question} {p.claim}", p.premise], "passage")
        language = detect_language(p.question)
        out.append(signals(p.claim, [(p.premise, detect_language(p.premise))], p.question, language,
                           float(vectors[0] @ vectors[1]), a.retriever.term_groups(p.claim)))
    return out


def verifier_verdicts(parts: Sequence[Signals], coverage: float, similarity: float) -> list[bool]:
    return [s.reason(coverage, similarity) is None for s in parts]


def calibrate_verifier(parts: Sequence[Signals], labels: Sequence[bool],
                       min_precision: float = 0.95) -> tuple[float, float, float, float]:
    """(coverage, similarity, precision, recall): the most recall at `min_precision` or more; ties go to the lowest
    thresholds. When no setting reaches the precision, the one with the best precision."""
    best = None
    for c in _COVERAGES:
        for t in _SIMILARITIES:
            v = verifier_verdicts(parts, c, t)
            tp = sum(a and b for a, b in zip(v, labels))
            fp = sum(a and not b for a, b in zip(v, labels))
            fn = sum(b and not a for a, b in zip(v, labels))
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            key = (precision >= min_precision, recall if precision >= min_precision else precision, -c, -t)
            if best is None or key > best[0]:
                best = (key, c, t, precision, recall)
    return best[1], best[2], best[3], best[4]


def most_accurate_verifier(parts: Sequence[Signals], labels: Sequence[bool]) -> tuple[float, float, float]:
    """(coverage, similarity, accuracy) with the most pairs judged right; ties go to the lowest thresholds."""
    best = None
    for c in _COVERAGES:
        for t in _SIMILARITIES:
            accuracy = sum(v == label for v, label in zip(verifier_verdicts(parts, c, t), labels)) / len(labels)
            if best is None or accuracy > best[2]:
                best = (c, t, accuracy)
    return best
