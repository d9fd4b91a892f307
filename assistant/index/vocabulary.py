"""The embedded vocabulary of term expansion, and how an update keeps its words' rows.

Words are in parts, as passages are, so that an update writes only the words new to the corpus: old words keep their
rows, in their parts (linked); new words are a part after them, merged with the parts before it while the one before
holds fewer than WORD_PART_GROWTH times its rows (a vocabulary of n words is in about log4(n) parts). A word no
article uses any more keeps its row until DEAD_WORDS of the rows are such words; then the words in use are written
again as one part.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..chunk import Passage
from ..bm25 import vocabulary

if TYPE_CHECKING:
    from .model import Index

WORD_PART_GROWTH = 4
DEAD_WORDS = 0.2


@dataclass
class Vocabulary:
    """The words a generation embeds, in row order; how many articles use each (0: a row no longer used); the
    article counts of the corpus words left without a row; how many of the old index's word parts stay as they
    are (the first ones); and the rows of each word part."""

    words: list[str]
    articles: list[int]
    others: dict[str, int]
    kept_parts: int
    parts: list[int]


def corpus_words(passages: list[Passage]) -> list[str]:
    """The vocabulary of the passages, in order of first appearance."""
    seen: dict[str, None] = {}
    for p in passages:
        seen.update(dict.fromkeys(vocabulary(p.text)))
    return list(seen)


def article_counts(passages: list[Passage]) -> Counter:
    """For each word of the passages, the number of articles among them that use it."""
    per_article: dict[str, set[str]] = {}
    for p in passages:
        per_article.setdefault(p.source, set()).update(vocabulary(p.text))
    return Counter(word for words in per_article.values() for word in words)


def expansion_words(counts: Counter, cap: int) -> set[str]:
    """The words term expansion embeds: every word some article uses or, past `cap` (> 0) of them, the `cap` used by
    the most articles (ties by the word, so that an update and a build from nothing keep the same ones)."""
    used = [w for w, n in counts.items() if n > 0]
    if 0 < cap < len(used):
        used = heapq.nsmallest(cap, used, key=lambda w: (-counts[w], w))
    return set(used)


def update_vocabulary(old: "Index | None", passages, leaving: list[Passage], fresh: list[Passage],
                      cap: int = 0) -> Vocabulary:
    """The embedded vocabulary of `passages` (`expansion_words` of their words, `cap` > 0: at most that many). With
    an old index that has its counts, only the passages of the articles that leave or change (`leaving`, the old
    ones) and that arrive or change (`fresh`) are read: the old words keep their rows, new words follow in order of
    first appearance, then the old words the cap admits now."""
    if old is None or old.word_articles is None:
        return _counted_afresh(passages, cap)
    counts = Counter(dict(zip(old.words, old.word_articles)))
    counts.update(old.other_words or {})  # a row the cap left (0) may have its word counted there
    counts.subtract(article_counts(leaving))
    counts.update(article_counts(fresh))
    kept = expansion_words(counts, cap)
    known = set(old.words)
    new = [w for w in corpus_words(fresh) if w in kept and w not in known]
    new += sorted(kept - known - set(new))  # old words the cap admits now that others left it
    words = old.words + new
    others = {w: n for w, n in counts.items() if n > 0 and w not in kept}
    if sum(1 for w in words if w not in kept) > DEAD_WORDS * len(words):
        words = [w for w in words if w in kept]
        return Vocabulary(words, [counts[w] for w in words], others, 0, [len(words)])
    parts = list(old.word_parts)
    if new:
        parts.append(len(new))
        while len(parts) > 1 and parts[-2] < WORD_PART_GROWTH * parts[-1]:
            parts[-2:] = [parts[-2] + parts[-1]]
    return Vocabulary(words, [counts[w] if w in kept else 0 for w in words], others,
                      len(parts) - 1 if new else len(parts), parts)


def _counted_afresh(passages, cap: int) -> Vocabulary:
    """The vocabulary of `passages` read whole (as corpus_words and article_counts, each passage's words once)."""
    order: dict[str, None] = {}
    per_article: dict[str, set[str]] = {}
    for p in passages:
        found = vocabulary(p.text)
        order.update(dict.fromkeys(found))
        per_article.setdefault(p.source, set()).update(found)
    counts = Counter(word for used in per_article.values() for word in used)
    kept = expansion_words(counts, cap)
    words = [w for w in order if w in kept]
    return Vocabulary(words, [counts[w] for w in words], {w: counts[w] for w in order if w not in kept}, 0,
                      [len(words)])
