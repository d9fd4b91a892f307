"""What an index is in memory (`Index`), and what an update did (`IndexReport`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from ..chunk import Passage
from ..bm25 import BM25
from ..stores import VectorStore
from ..table import PassageTable, sentence_table

_NAMED = 5  # article names an index summary lists per kind of change


@dataclass
class IndexReport:
    """What an update did; printed by the CLI and the benchmark."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rebuilt: str | None = None  # why a full rebuild happened, if it did
    passages: int = 0
    embedded: int = 0  # texts the embedder ran on
    resumed: int = 0  # texts whose vectors an interrupted build had embedded (checkpoint.py)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # corpus problems, "name: reason"
    searchable: int = 0  # parts written again, unchanged, for the search index `candidates` asks for (FAISS)

    @property
    def wrote(self) -> bool:
        """Whether the update wrote a new generation."""
        return bool(self.added or self.changed or self.removed or self.rebuilt or self.searchable)

    def summary(self) -> str:
        """One line for the CLI: passages, what changed, what was embedded and how long it took."""
        parts = [f"{self.passages} passages from {len(self.added) + len(self.changed) + len(self.unchanged)} articles"]
        if self.rebuilt:
            parts.append(f"rebuilt ({self.rebuilt})")
        for label, items in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if items:  # a few names, not the 10,000 of a first build (to_dict has them all)
                more = f" and {len(items) - _NAMED} more" if len(items) > _NAMED else ""
                parts.append(f"{label} {len(items)}: {', '.join(items[:_NAMED])}{more}")
        if self.searchable:
            parts.append(f"{self.searchable} parts written again with a search index")
        if not self.wrote:
            parts.append("up to date")
        resumed = f" (and {self.resumed} kept from an interrupted build)" if self.resumed else ""
        parts.append(f"{self.embedded} embedded{resumed} in {self.seconds:.1f}s")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        """The report as JSON-ready fields."""
        return asdict(self)


@dataclass
class Index:
    """`sentences[j]` is (source, start, end) of sentence row j of `sentence_store`, and `sentence_row` the way back;
    the sentence rows of passage i are `sentence_rows[sentence_offsets[i]:sentence_offsets[i + 1]]` (flat arrays, so a
    question pools every passage's sentences in one numpy call); `words[j]` is the word of row j of `word_store`,
    used by `word_articles[j]` articles (0: a word kept in its row after the last article using it left).
    `passages` is a list (a build's) or a `table.PassageTable` (a loaded index's, whose passages are parsed when asked
    for); `sentences` is made when first asked for (updates do, questions do not)."""

    passages: list[Passage] | PassageTable
    store: VectorStore
    sentence_store: VectorStore
    words: list[str]
    word_store: VectorStore
    manifest: dict
    path: Path
    bm25: BM25 | None = None
    word_articles: list[int] | None = None  # how many articles use words[j]; None in older generations
    # {"passages": {language: mean vector}, "sentences": {...}} for language centring; None in older generations
    centroids: dict | None = None
    # (passages, sentences) of each part, in row order: each part holds whole articles; one part by default
    part_rows: list[tuple[int, int]] | None = None
    word_parts: list[int] | None = None  # the rows of each word part, in row order
    # how many articles use each corpus word that has no row (past config term_vocabulary); None in older generations
    other_words: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.passages, PassageTable):  # from its columns
            self.sentence_row, self.sentence_rows, self.sentence_offsets = (
                self.passages.sentence_row, self.passages.sentence_rows, self.passages.sentence_offsets)
        else:
            self.sentence_row, self.sentence_rows, self.sentence_offsets = sentence_table(self.passages)
        if self.part_rows is None:
            self.part_rows = [(len(self.passages), len(self.sentence_row))]
        if self.word_parts is None:
            self.word_parts = [len(self.words)]

    @cached_property
    def sentences(self) -> list[tuple[str, int, int]]:
        return list(self.sentence_row)
