"""Metrics, each defined here and checked against hand-computed values in tests/test_metrics.py.

Retrieval (answerable items only):
- hit: a retrieved passage comes from the gold `source` article and contains the gold `evidence`, both compared
  after collapsing white space;
- rank: the 1-based position of the first hit, None when there is none;
- recall@k: the share of items whose rank is <= k;
- MRR: the mean over items of 1/rank (0 for no hit).

Correctness (answerable items only; a refused answer scores 0):
- normalise(text, lang): citation markers removed, case and accents folded, punctuation removed, the articles of
  `lang` (and English) dropped, white space collapsed;
- STR-EM: some gold alias, normalised, occurs in the normalised answer (on word boundaries);
- token F1: the best over aliases of the F1 between the answer's and the alias's normalised tokens.

Citations:
- evidence precision: the share of citations whose retrieved passage (the one holding the cited sentence) contains
  the gold evidence (answerable items).

Refusal: unanswerable items refused / unanswerable items; answerable items refused / answerable items.
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from assistant import lang

_WS = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def retrieval_rank(passages: Sequence, source: str, evidence: str) -> int | None:
    """1-based rank of the first passage of `source` that contains `evidence`; None when none does."""
    needle = _squash(evidence)
    for rank, p in enumerate(passages, start=1):
        if p.source == source and needle in _squash(p.text):
            return rank
    return None


def recall_at(ranks: Iterable[int | None], k: int) -> float:
    ranks = list(ranks)
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: Iterable[int | None]) -> float:
    ranks = list(ranks)
    return sum(1.0 / r for r in ranks if r) / len(ranks) if ranks else 0.0


def retrieval_summary(rows: Iterable[tuple[str, int | None]], ks: Sequence[int] = (1, 3, 5)) -> dict[str, dict]:
    """rows: (language, rank). Returns {"all": {...}, "en": {...}, ...} with n, recall@k and mrr."""
    groups: dict[str, list[int | None]] = defaultdict(list)
    for language, rank in rows:
        groups["all"].append(rank)
        groups[language].append(rank)
    out = {}
    for name in ["all"] + sorted(g for g in groups if g != "all"):
        ranks = groups[name]
        out[name] = {"n": len(ranks), **{f"recall@{k}": recall_at(ranks, k) for k in ks}, "mrr": mrr(ranks)}
    return out


_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_PUNCT = re.compile(r"[%s“”«»‘’–—…]" % re.escape(string.punctuation))


def normalise(text: str, language: str = "en") -> str:
    articles = {lang.fold(a) for a in set(lang.table(language)["articles"]) | set(lang.table("en")["articles"])}
    words = _PUNCT.sub(" ", lang.fold(_MARKER.sub(" ", text))).split()
    return " ".join(w for w in words if w not in articles)


def str_em(answer: str, aliases: Iterable[str], language: str = "en") -> bool:
    text = f" {normalise(answer, language)} "
    return any(f" {alias} " in text for alias in (normalise(a, language) for a in aliases) if alias)


def token_f1(answer: str, aliases: Iterable[str], language: str = "en") -> float:
    predicted = normalise(answer, language).split()
    best = 0.0
    for alias in aliases:
        gold = normalise(alias, language).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_has_evidence(citation, passages: Sequence, evidence: str) -> bool:
    """Does the retrieved passage that holds the cited sentence contain the gold evidence?"""
    needle = _squash(evidence)
    for p in passages:
        if p.source == citation.source and p.start <= citation.start and citation.end <= p.end:
            return needle in _squash(p.text)
    return False


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
