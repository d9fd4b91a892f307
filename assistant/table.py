"""The passages of a saved index, made into `Passage` objects only when asked for.

An index part keeps its passages as JSON lines (`passages.jsonl`, one passage a line, readable by anyone) and, beside
them, their columns (`passages.npz`): where each line ends, each passage's article and language, and the article
offsets and sentence rows of its sentences. A question needs only the columns (the language of every row for
language centring, every passage's sentence rows for pooling) and the few passages it returns, so loading an index
maps the lines and reads the columns, and parses a line when its passage is asked for. Reading every line into
objects cost 1.1 s of a fresh process's first question at 10,000 articles (parsing 81,000 lines, the sentence table,
the garbage collector's passes over them) and grows with the corpus. An update reads the columns of the parts it
keeps and parses only the passages of the parts it writes again.

`PassageTable` is a sequence of passages over segments, one per part: a part's lines with their columns, or a list
of passages (a part written before the columns existed, or rows an update made in memory).
"""

from __future__ import annotations

import bisect
import gc
import json
import mmap
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .chunk import Passage

__all__ = ["PassageTable", "bulk", "passage_record", "sentence_table", "write_columns", "read_part", "languages_of"]

_COLUMNS = ("line_ends", "sources", "article", "languages", "sentence_offsets", "sentence_rows", "spans")


@contextmanager
def bulk():
    """No cyclic garbage collection while hundreds of thousands of objects that live on are made (passages, their
    sentences, the sentence table): the collector's passes over them cost 0.5 s of a 1.4 s load at 10,000 articles
    when loading made every passage. They hold no cycles; collection resumes after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def passage_record(p: Passage) -> dict:
    """A passage as one JSON line of `passages.jsonl`."""
    return {"source": p.source, "title": p.title, "language": p.language, "start": p.start, "end": p.end,
            "sentences": [list(s) for s in p.sentences], "text": p.text}


def parse_passage(line: str) -> Passage:
    r = json.loads(line)
    return Passage(r["source"], r["title"], r["language"], r["text"], r["start"], r["end"],
                   sentences=tuple(map(tuple, r["sentences"])))


def sentence_table(passages: Sequence[Passage]) -> tuple[dict[tuple[str, int, int], int], np.ndarray, np.ndarray]:
    """The row of each distinct sentence (source, start, end), in order of first appearance; the rows of every
    passage's sentences, flat; and where each passage's rows start in them (one more entry: the end)."""
    row: dict[tuple[str, int, int], int] = {}
    flat = [row.setdefault((p.source, s, e), len(row)) for p in passages for s, e in p.sentences]
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    np.cumsum([len(p.sentences) for p in passages], out=offsets[1:])
    return row, np.array(flat, dtype=np.int64), offsets


def _columns(passages: Sequence[Passage], rows: np.ndarray | None = None,
             offsets: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The columns of a part's passages; sentence rows counted from 0 in order of first appearance (`rows` and
    `offsets` of `sentence_table(passages)`, when the caller has them)."""
    sources: dict[str, int] = {}
    article = np.array([sources.setdefault(p.source, len(sources)) for p in passages], dtype=np.int32)
    if rows is None or offsets is None:
        _, rows, offsets = sentence_table(passages)
    spans = np.array([se for p in passages for se in p.sentences], dtype=np.int64).reshape(-1, 2)
    return {"sources": np.array(list(sources), dtype=str), "article": article,
            "languages": np.array([p.language for p in passages], dtype=str),
            "sentence_offsets": offsets, "sentence_rows": rows, "spans": spans}


def write_columns(path: Path, lines: Path, passages: Sequence[Passage], rows: np.ndarray | None = None,
                  offsets: np.ndarray | None = None) -> None:
    """Write the columns of `passages`, the passages of the JSON lines file `lines`, in that order, to `path`
    (`rows`, `offsets`: as `_columns`)."""
    data = np.fromfile(lines, dtype=np.uint8)
    ends = np.concatenate([[0], np.flatnonzero(data == ord("\n")) + 1]).astype(np.int64)
    if len(ends) != len(passages) + 1 or ends[-1] != len(data):
        raise ValueError(f"{lines.name} does not hold one line per passage")
    with open(path, "wb") as fh:
        np.savez(fh, line_ends=ends, **_columns(passages, rows, offsets))


class _Columns:
    """A segment's columns (see `_columns`): what a question reads instead of the passages."""

    def __init__(self, cols: dict[str, np.ndarray]) -> None:
        self.sources = cols["sources"].tolist()
        self.article, self.languages, self.spans = cols["article"], cols["languages"], cols["spans"]
        self.sentence_offsets, self.sentence_rows = cols["sentence_offsets"], cols["sentence_rows"]


class _Lines(_Columns, Sequence):
    """The passages of one part's JSON lines, mapped, with their columns; a line is parsed when its passage is
    asked for."""

    def __init__(self, lines: Path, columns: Path) -> None:
        try:
            with np.load(columns, allow_pickle=False) as data:
                cols = {name: data[name] for name in _COLUMNS}
        except (zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise ValueError(f"{columns.name} is not passage columns ({exc})") from None
        with open(lines, "rb") as fh:
            size = fh.seek(0, 2)
            self._data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._ends = cols["line_ends"]
        n = len(self._ends) - 1
        offsets, rows, spans, article = (cols[k] for k in ("sentence_offsets", "sentence_rows", "spans", "article"))
        ok = (n >= 0 and self._ends[0] == 0 and self._ends[-1] == size and (np.diff(self._ends) > 0).all()
              and len(cols["languages"]) == len(article) == n and len(offsets) == n + 1 and offsets[0] == 0
              and (np.diff(offsets) > 0).all() and offsets[-1] == len(rows) == len(spans) and spans.shape[1:] == (2,)
              and (not n or 0 <= article.min() and article.max() < len(cols["sources"])))
        # rows in order of first appearance: each is at most one past every row before it
        if ok and len(rows):
            ok = rows[0] == 0 and (rows[1:] <= np.maximum.accumulate(rows)[:-1] + 1).all()
        if not ok:
            raise ValueError(f"{columns.name} does not describe {lines.name}")
        super().__init__(cols)

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return parse_passage(self._data[self._ends[i]:self._ends[i + 1]].decode("utf-8"))

    def __iter__(self) -> Iterator[Passage]:
        # from the mapping, not the file: a process answering from this generation keeps it after another process's
        # build removed the folder
        ends = self._ends.tolist()
        for lo, hi in zip(ends, ends[1:]):
            yield parse_passage(self._data[lo:hi].decode("utf-8"))


def read_part(lines: Path, columns: Path | None) -> Sequence[Passage]:
    """The passages of one part: mapped with their columns, or (a part written before they existed) read whole.
    ValueError (or OSError) when the files are not what this module wrote."""
    if columns is not None:
        return _Lines(lines, columns)
    with open(lines, encoding="utf-8") as fh:
        return [parse_passage(line) for line in fh]


def languages_of(passages: Sequence[Passage]) -> np.ndarray:
    """The language of each passage, from the columns when there are some."""
    if isinstance(passages, PassageTable):
        return passages.languages
    return np.array([p.language for p in passages])


class PassageTable(Sequence):
    """The passages of an index over its parts' segments (`_Lines`, or lists of passages), in row order.

    `sentence_rows` and `sentence_offsets` are the index's sentence table (`sentence_table`): each part's rows
    follow the rows of the parts before it (parts hold whole articles). `sentence_row` maps (source, start, end) to
    a sentence row, looking up only the passages of that article."""

    def __init__(self, segments: list[Sequence[Passage]]) -> None:
        self._segments = segments
        self._starts = np.cumsum([0] + [len(s) for s in segments]).tolist()
        columns = [s if isinstance(s, _Columns) else _Columns(_columns(s)) for s in segments]
        self.languages = np.concatenate([c.languages for c in columns]) if columns else np.zeros(0, dtype=str)
        rows, offsets, spans, first_row, first_flat = [], [np.zeros(1, dtype=np.int64)], [], 0, 0
        for c in columns:
            rows.append(c.sentence_rows + first_row)
            offsets.append(c.sentence_offsets[1:] + first_flat)
            spans.append(c.spans)
            first_row += int(c.sentence_rows.max()) + 1 if len(c.sentence_rows) else 0
            first_flat += len(c.sentence_rows)
        self.sentence_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.sentence_offsets = np.concatenate(offsets)
        self.n_sentences = first_row
        self._spans = np.concatenate(spans) if spans else np.zeros((0, 2), dtype=np.int64)
        self._columns = columns
        self._articles: dict[str, tuple[int, int]] | None = None
        self._all: list[Passage] | None = None  # every passage, once something has iterated them (an update)
        self.sentence_row = _SentenceRows(self)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, i):
        if self._all is not None:
            return self._all[i]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("passage index out of range")
        part = bisect.bisect_right(self._starts, i) - 1
        return self._segments[part][i - self._starts[part]]

    def __iter__(self) -> Iterator[Passage]:
        # whoever reads every passage once (an update: grouping by article, the sentence table, the parts it
        # keeps) reads them again: parsed once, kept (what loading did for every index before columns)
        if self._all is None:
            with bulk():
                self._all = [p for segment in self._segments for p in segment]
        return iter(self._all)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None

    @property
    def segments(self) -> list[Sequence[Passage]]:
        """The segments, one per part of the index."""
        return self._segments

    def segment_sources(self, i: int) -> list[str]:
        """The articles of segment i (from its columns)."""
        return self._columns[i].sources

    def article_counts(self) -> dict[str, int]:
        """The number of passages of each article (from the columns)."""
        return {source: int(n) for c in self._columns
                for source, n in zip(c.sources, np.bincount(c.article, minlength=len(c.sources)).tolist())}

    def passages_of(self, source: str) -> list[Passage]:
        """An article's passages (only theirs are parsed)."""
        return [self[i] for i in self.article_passages(source)]

    def article_sentences(self, source: str) -> dict[tuple[str, int, int], int]:
        """(source, start, end) -> sentence row of each distinct sentence of an article (from the columns)."""
        rows = self.article_passages(source)
        lo, hi = int(self.sentence_offsets[rows.start]), int(self.sentence_offsets[rows.stop])
        found: dict[tuple[str, int, int], int] = {}
        for (s, e), row in zip(self._spans[lo:hi].tolist(), self.sentence_rows[lo:hi].tolist()):
            found.setdefault((source, s, e), row)
        return found

    def article_passages(self, source: str) -> range:
        """The rows of an article's passages (contiguous: an article is chunked in one go, into one part)."""
        if self._articles is None:
            found: dict[str, tuple[int, int]] = {}
            for start, c in zip(self._starts, self._columns):
                if not len(c.article):
                    continue
                # where the article id changes: the first passage of each run
                cuts = np.flatnonzero(np.diff(c.article)) + 1
                firsts = np.concatenate([[0], cuts]).tolist()
                lasts = np.concatenate([cuts, [len(c.article)]]).tolist()
                for lo, hi in zip(firsts, lasts):
                    found[c.sources[int(c.article[lo])]] = (start + lo, start + hi)
            self._articles = found
        return range(*self._articles.get(source, (0, 0)))

    def sentence_keys(self) -> dict[tuple[str, int, int], int]:
        """(source, start, end) -> sentence row of every distinct sentence, in row order (from the columns)."""
        found: dict[tuple[str, int, int], int] = {}
        for c, spans, rows in zip(self._columns, np.split(self._spans, self.sentence_offsets[self._starts[1:-1]]),
                                  np.split(self.sentence_rows, self.sentence_offsets[self._starts[1:-1]])):
            names = [c.sources[a] for a in np.repeat(c.article, np.diff(c.sentence_offsets)).tolist()]
            for name, (s, e), row in zip(names, spans.tolist(), rows.tolist()):
                found.setdefault((name, s, e), row)  # rows come in order of first appearance
        return found


class _SentenceRows(Mapping):
    """(source, start, end) -> sentence row of a `PassageTable`: a lookup reads the columns of that article's
    passages; iterating (updates do) makes the whole dict once, from every part's columns."""

    def __init__(self, table: PassageTable) -> None:
        self._table = table
        self._all: dict | None = None

    def __getitem__(self, key: tuple[str, int, int]) -> int:
        if self._all is not None:
            return self._all[key]
        return self._table.article_sentences(key[0])[key]

    def _whole(self) -> dict:
        if self._all is None:
            with bulk():
                self._all = self._table.sentence_keys()
        return self._all

    def __iter__(self):
        return iter(self._whole())

    def __len__(self) -> int:
        return self._table.n_sentences
