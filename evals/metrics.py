"""Metrics, each defined here and checked against hand-computed values in tests/test_metrics.py.

Retrieval (answerable items only):
- hit: a retrieved passage comes from the gold `source` article and contains the gold `evidence`, both compared
  after collapsing white space;
- rank: the 1-based position of the first hit, None when there is none;
- recall@k: the share of items whose rank is <= k;
- MRR: the mean over items of 1/rank (0 for no hit).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Sequence

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
