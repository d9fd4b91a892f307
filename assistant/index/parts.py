"""Parts of a generation: which articles go in which part, which parts an update keeps, and whose graph a new part
takes over.

A part holds whole articles, at most PART_SENTENCES sentences' worth when a build writes it. An update hard-links
the previous generation's parts none of whose articles changed or left, and writes new parts with the other
articles, instead of rewriting every vector: adding an article writes one small part, changing one rewrites its
part. Past MAX_PARTS the smallest kept parts are written again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..chunk import Passage
from ..stores import VectorStore
from ..table import PassageTable
from .layout import MAX_PARTS

if TYPE_CHECKING:
    from .model import Index

# about 100 MB of sentence vectors at 384 dimensions: smaller parts make a change cheaper and loading dearer
PART_SENTENCES = 65_536
# A part's HNSW graph is kept by the part that replaces it while the rows it has lost since it was built whole stay
# within this share of the part; then it is built anew (recall falls as links to rows that leave are dropped:
# docs/scale.md).
GRAPH_WEAR = 0.2


def worn_out(worn: int, n: int) -> bool:
    """Whether a graph that has lost `worn` rows' links is built anew for a part of n rows (GRAPH_WEAR)."""
    return worn > GRAPH_WEAR * n


def parts_lacking_search_index(index: Index) -> int:
    """How many parts of `index` (passages and sentences, or words) lack the search index a part written now would
    get (a generation written with `ann` gives it to them)."""
    parts = range(len(index.part_rows))
    return len({i for column, store in enumerate((index.store, index.sentence_store))
                for i, part in zip(parts, part_stores(store, index.part_rows, list(parts), column))
                if part.lacks_search_index()}) + sum(
        part.lacks_search_index() for part in word_part_stores(index, len(index.word_parts)))


def distinct_sentences(passages: list[Passage]) -> int:
    """How many distinct sentences the passages hold."""
    return len({(p.source, s, e) for p in passages for s, e in p.sentences})


def graph_donor(store: VectorStore, part_rows: list[tuple[int, int]], column: int, came_from: np.ndarray):
    """The part of `store` (an index's, `column` of its part_rows) that most of a new part's rows come from
    (`came_from`: the store's row of each, or -1), the row of that part each one is (-1 for the others), and which
    part it is; None when none does. Its graph, kept for those rows, takes the others as a graph built anew takes
    every row: one at a time, each linked to its nearest nodes found by walking what is there."""
    if not len(came_from):
        return None
    starts = np.cumsum([0] + [rows[column] for rows in part_rows])
    part = np.where(came_from >= 0, np.searchsorted(starts, came_from, side="right") - 1, -1)
    counts = np.bincount(part[part >= 0], minlength=len(part_rows))
    if not counts.max():
        return None
    k = int(counts.argmax())
    (donor,) = part_stores(store, part_rows, [k], column)
    return donor, np.where(part == k, came_from - starts[k], -1), k


def part_stores(store: VectorStore, part_rows: list[tuple[int, int]], which: list[int], column: int) -> list:
    """The stores holding parts `which` of a store's rows (`column` of part_rows: 0 passages, 1 sentences): the
    parts it was loaded from (a file or table each), or the part's rows of an older generation's table."""
    starts = np.cumsum([0] + [rows[column] for rows in part_rows]).tolist()
    return [store.part(starts[i], starts[i + 1]) if len(part_rows) > 1 else store for i in which]


def word_part_stores(index: Index, n: int) -> list:
    """The stores holding the first n word parts of `index`."""
    return part_stores(index.word_store, [(rows,) for rows in index.word_parts], list(range(n)), 0)


def table_of(index: Index) -> PassageTable:
    """An index's passages as a table with one segment per part (a list of passages is cut at its parts)."""
    if isinstance(index.passages, PassageTable) and len(index.passages.segments) == len(index.part_rows):
        return index.passages
    starts = np.cumsum([0] + [n for n, _ in index.part_rows]).tolist()
    return PassageTable([list(index.passages[a:b]) for a, b in zip(starts, starts[1:])])


def plan_parts(old: PassageTable | None, old_rows: list[tuple[int, int]], by_article: dict[str, list[Passage] | None],
                dirty: set[str]) -> tuple[list[int], list[tuple[int, int]], list[list[Passage]]]:
    """Which parts of the old index (`old`, its passages, and `old_rows`, its parts' (passages, sentences)) the new
    generation keeps (those none of whose articles is `dirty`: changed or removed), the (passages, sentences) of
    each of its parts, and the passages of each new part: the other articles of `by_article`, in its order, in new
    parts of at most PART_SENTENCES sentences (more when MAX_PARTS / 2 of them would not hold the corpus). An
    unchanged article is None in `by_article`: its passages are read from the old index only when its part is
    written again. While there would be more than MAX_PARTS, the kept part with fewest sentences joins the new
    ones."""
    part_sources = [set(old.segment_sources(i)) for i in range(len(old_rows))]
    kept = [i for i, sources in enumerate(part_sources) if sources and not sources & dirty]
    counted: dict[str, int] = {}  # distinct sentences of the articles outside the kept parts, counted once each

    def passages_of(source: str) -> list[Passage]:
        if by_article[source] is None:
            by_article[source] = old.passages_of(source)
        return by_article[source]

    def sentences(source: str) -> int:
        if source not in counted:
            counted[source] = distinct_sentences(passages_of(source))
        return counted[source]

    first_taken = set().union(*(part_sources[i] for i in kept))
    total = sum(old_rows[i][1] for i in kept) + sum(sentences(s) for s in by_article if s not in first_taken)
    cap = max(PART_SENTENCES, -(-total // (MAX_PARTS // 2)))
    while True:
        taken = set().union(*(part_sources[i] for i in kept))
        groups: list[list[str]] = []
        filled = 0  # sentences in the last group
        for source in by_article:
            if source in taken:
                continue
            if not groups or filled and filled + sentences(source) > cap:
                groups.append([])
                filled = 0
            groups[-1].append(source)
            filled += sentences(source)
        if not kept or len(kept) + len(groups) <= MAX_PARTS:
            break
        kept.remove(min(kept, key=lambda i: (old_rows[i][1], i)))
    part_rows = [old_rows[i] for i in kept]
    new_parts = []
    for group in groups or ([] if kept else [[]]):  # an empty corpus is one empty part
        ps = [p for source in group for p in passages_of(source)]
        new_parts.append(ps)
        part_rows.append((len(ps), distinct_sentences(ps)))
    return kept, part_rows, new_parts
