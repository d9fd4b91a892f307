"""The store contract: what the index asks of the place its vectors live.

A store holds a (n, dim) matrix of unit vectors whose row i belongs to passage (sentence, word) i of one part of an
index generation. The index builds a generation by filling an in-process buffer (`allocate`), `persist`ing one part
at a time where the configured backend keeps rows (a file, or a table of a server), and loading each part back
(`load`); several parts are searched as one (`concatenated`). Retrieval then asks for similarities, nearest rows,
rows and means, which a server computes itself, so that a question never reads an engine's rows back. Errors
reading what was persisted surface as `IndexCorruptError` (the index is rebuilt); a server that cannot be reached
or fails as `StoreError` (it is not).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


# With config `candidates` set, a part's passages, sentences or words of this many rows or more get an approximate
# search index (an HNSW graph: a FAISS file's, or pgvector's index on the table), from which `candidates` answers;
# fewer rows (an update's new part) are scanned: building their graph would cost the update more than it saves.
# Measured in docs/scale.md.
ANN_MIN_ROWS = 10_000


@dataclass(frozen=True)
class SearchGraph:
    """Asks `persist` for an approximate-search index over rows of `ANN_MIN_ROWS` or more. `pause()` is called
    between blocks of the build (the embedder's: a background update waits there while a question is answered);
    `donor` is (a store of the index before, the row of it each new row is or -1): a backend that can keeps that
    store's graph for those rows instead of building one (`keeps_graph`)."""

    pause: Callable[[], None] | None = None
    donor: tuple | None = None


class VectorStore(ABC):
    """Where the vectors of one part of an index generation live. The whole contract the index relies on:

    - class attributes: `name` (config `store`), `suffix` (of the file a generation keeps for the part: its rows,
      or where they are), `local` (every row is held in this process), `graphs_here` (`persist` builds a search
      graph in this process, around a copy of the rows: a build asks for those once its own buffers are freed);
    - `persist(built, path, url, rows, graph)` writes rows of a build's store where this backend keeps them and
      returns the store of them; `load(path, url)` reads one back; `concatenated(parts)` joins parts in order;
    - `reference(path)`, `discard(path, url)`: what a generation's file names outside it (a table), and deleting it;
      `check(url)`: StoreError now, before a build embeds anything, when rows could not be written;
    - `len(store)`, `dim`, `vectors()`, `rows(ids)`, `between(first, last)`, `part(first, last)`;
    - scoring: `search`, `similarities`, `similarities_of`, `candidates`, `candidates_each`, `nearest`, `mean`;
    - `finite()`, `keeps_graph()`, `lacks_search_index()`, `file_lacks_search_index(path)`, `add_search_index()`.

    Errors reading what was persisted are `IndexCorruptError`; a server that cannot be reached, `StoreError`."""

    name: str = ""
    suffix: str = ""
    local: bool = True
    graphs_here: bool = False

    @classmethod
    @abstractmethod
    def persist(cls, built: "VectorStore", path: Path, url: str | None = None, rows: tuple[int, int] | None = None,
                graph: SearchGraph | None = None) -> "VectorStore":
        """Write rows `first` to `last` of `rows` (all of them by default) of a build's store as the part file
        `path` (its rows, or the name of the table holding them), and return the store of those rows. `graph`:
        give them an approximate-search index (`SearchGraph`)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, url: str | None = None) -> "VectorStore":
        """The store a generation's file `path` holds or names (IndexCorruptError when it cannot be read)."""

    @classmethod
    @abstractmethod
    def concatenated(cls, parts: list["VectorStore"]) -> "VectorStore":
        """One store with the rows of `parts` in order, without copying them."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of rows."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """The length of a row."""

    @abstractmethod
    def vectors(self, writable: bool = False) -> np.ndarray:
        """Every row, as an (n, dim) float32 array (a view where the backend can; an engine reads them back)."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best rows for a unit query vector, as (row, cosine similarity), best first."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the store to `path` (one file)."""

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """The cosine of the query with every row, in row order (dense scoring reads them all)."""
        sims = np.zeros(len(self), dtype=np.float32)
        for row, score in self.search(query, len(self)):
            sims[row] = score
        return sims

    # What retrieval asks of a store besides `similarities`: computed here from `vectors()`, in the engine by
    # an engine backend, so that a question never reads the engine's rows back.
    def rows(self, ids) -> np.ndarray:
        """The vectors of these rows, in the order given."""
        return self.vectors()[ids]

    def between(self, first: int, last: int) -> np.ndarray:
        """Rows `first` to `last` (of a store in one array, a view)."""
        return self.vectors()[first:last]

    def part(self, first: int, last: int) -> "VectorStore":
        """A store of rows `first` to `last` (here a copy of them; the engine's names the rows in its table)."""
        from .faiss import FaissStore  # the in-process store

        return FaissStore.from_vectors(self.between(first, last))

    def mean(self, mask: np.ndarray) -> np.ndarray:
        """The mean vector of the rows where `mask` is true (a language's centroid): `vectors()[mask].mean(axis=0)`
        bit for bit, without that copy of the language's rows (430 MB of a build of 10,000 articles, its peak)."""
        total, count = summed(self.vectors(), mask)
        return total / count if count else np.full(self.dim, np.nan, dtype=np.float32)

    def similarities_of(self, query: np.ndarray, ids) -> np.ndarray:
        """The cosine of the query with these rows, in the order given (what `similarities` gives them)."""
        return np.einsum("ij,j->i", self.rows(ids), np.asarray(query, dtype=np.float32))

    def candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """About the k rows most similar to a unit query vector, and their cosines, best first: exact here; an
        engine may answer from an approximate index (HNSW), which is what makes it cheaper than `similarities`."""
        return self.nearest(np.asarray(query, dtype=np.float32)[None, :], k)[0]

    def candidates_each(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`candidates(query, k)` for each query (an engine asks them at once)."""
        return [self.candidates(q, k) for q in queries]

    def nearest(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query, its k most similar rows and their cosines, best first (ties by row)."""
        out = []
        # one query at a time through `similarities`, not `queries @ vectors.T`: that product ran in OpenBLAS's
        # threads, which then busy-wait and took a core from the embedder (a question's embedding 2-3x slower)
        for query in queries:
            row = self.similarities(query)
            out.append(top(row, k))
        return out

    def add_search_index(self) -> None:
        """Give the rows the approximate-search index `persist(..., ann=True)` gives them, if they lack it (an index
        built before `candidates` was set), where they are kept (an engine's table); nothing for a store searched
        exactly, or kept in a file (see `lacks_search_index`)."""

    def keeps_graph(self) -> bool:
        """Whether `persist(..., donor=(self, rows))` keeps this store's search graph (a FAISS part's HNSW graph)."""
        return False

    def lacks_search_index(self) -> bool:
        """Whether `persist(..., ann=True)` would give these rows an approximate-search index that they lack and
        that only writing them again can give (a FAISS file: generation files never change)."""
        return False

    def finite(self) -> bool:
        """Whether every stored number is finite (a damaged file can hold NaN)."""
        return bool(np.isfinite(self.vectors()).all())

    @classmethod
    def reference(cls, path: Path) -> str | None:
        """What the file `path` names outside the generation folder (a table), None for a file holding its rows."""
        return None

    @classmethod
    def discard(cls, path: Path, url: str | None) -> None:
        """Delete what the store keeps outside the generation folder for the file `path` (nothing, for a file)."""

    @staticmethod
    def graphed(n: int) -> bool:
        """Whether a part of n rows gets a search graph when `persist` is asked for one (`ANN_MIN_ROWS` or more)."""
        return n >= ANN_MIN_ROWS

    @classmethod
    def file_lacks_search_index(cls, path: Path) -> bool:
        """Whether the part file `path` lacks the search index `persist` with a `graph` would give it (read from
        the file's first bytes, without loading it)."""
        return False

    @classmethod
    def check(cls, url: str | None) -> None:
        """StoreError when rows could not be written at `url` now (an engine that cannot be reached): a build asks
        before it embeds anything. Nothing to check for files."""


SUM_BLOCK = 16_384  # rows a mean copies at a time


def summed(vectors: np.ndarray, mask: np.ndarray, total: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """`total` (none: nothing yet) plus the rows of `vectors` where `mask` is true, and how many they are. Added row
    after row, as numpy sums an array's rows along its first axis, a block at a time: a sum carried across blocks or
    parts is the sum of all the rows in one array, bit for bit."""
    count = 0
    for a in range(0, len(vectors), SUM_BLOCK):
        rows = vectors[a:a + SUM_BLOCK][mask[a:a + SUM_BLOCK]]
        if total is not None and not len(rows):
            continue
        count += len(rows)
        total = rows.sum(axis=0) if total is None else np.add.reduce(np.vstack([total[None], rows]), axis=0)
    return total, count


def top(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows and their values, best first, ties by row (`np.argsort(-sims, kind="stable")[:k]`), through a
    partition: sorting all of a vocabulary of 111,454 words' cosines took 8 ms a question word."""
    k = max(0, min(int(k), len(sims)))
    pick = np.arange(len(sims))
    if 0 < k < len(sims):  # every row as good as the k-th best, ties included, then those in order
        pick = np.flatnonzero(sims >= np.partition(sims, len(sims) - k)[len(sims) - k])
    top = pick[np.lexsort((pick, -sims[pick]))][:k]
    return top, sims[top]


def search_breadth(k: int) -> int:
    """How many candidates an HNSW search keeps while it walks the graph, for k results (ef_search, efSearch):
    at least k, pgvector's default of 40 for fewer, at most its maximum of 1,000."""
    return max(40, min(k, 1000))
