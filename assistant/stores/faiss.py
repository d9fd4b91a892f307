"""The `faiss` store: a part's rows in a FAISS file of the generation, mapped and searched in this process.

A flat inner-product index searched through llama-index's `FaissVectorStore` (the design's FAISS-through-llama-index;
the store keeps the raw FAISS index it gives the wrapper, to count, size and read back vectors; importing llama-index
costs about a second, so a process only pays it to `search`). Flat search is exact; dense scoring is FAISS's own
inner-product kernel, and `vectors()` a read-only view of the mapped file, not a copy. With config `candidates`, a
part of `ANN_MIN_ROWS` rows or more is written as an HNSW graph around the same flat rows (`IndexHNSWFlat`), from
which `candidates` answers; a part written in place of another keeps the other's graph for the rows they share
(graph.py). Every build fills one of these in memory first (`allocate`), whatever the configured store.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError
from .base import SearchGraph, VectorStore, search_breadth
from .graph import empty_graph, graft, graph_arrays, import_faiss, relabelled
from .parts import Parts

def write_flat(path: Path, rows: np.ndarray) -> None:
    """The file `faiss.write_index` writes for an inner-product flat index of `rows` (the same bytes: tested), from
    the rows as they are: through an index they were first copied into it (a part of 65,536 sentences, 100 MB, was a
    build's peak). After the kind: the dimension, the row count, two unused fields, trained, the metric (inner
    product: 0), then the numbers."""
    n, dim = rows.shape
    with open(path, "wb") as fh:
        fh.write(_FLAT_IP + struct.pack("<iqqq?iq", dim, n, 1 << 20, 1 << 20, True, 0, n * dim))
        np.ascontiguousarray(rows, dtype=np.float32).tofile(fh)


class _Rows(np.ndarray):
    """A plain array that also holds a reference to the object owning its memory; arithmetic on it gives plain
    arrays."""

    owner = None

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        obj = np.asarray(obj).view(np.ndarray)
        return obj[()] if return_scalar else obj


# With config `candidates` set, a FAISS part of ANN_MIN_ROWS rows or more is an HNSW graph around its flat rows. M
# neighbours a node: with 16, the hash vectors of the scale benchmark's copies (180 equal points per sentence) gave
# recall@10 0.56 over a part of 65,531 sentences, with 32 0.97-0.99 (real vectors, ../shared/outside's 8,829 words:
# 0.999); the graph adds 272 bytes a row to the 1,536 of the row, and took 3.9 s to build for that part (2 threads).
# rows added to a graph between two calls of the build's `pause` (about half a second of both cores): a background
# update waits there while a question is answered, as it does between embedding batches
GRAPH_BLOCK = 8192
_FLAT_IP = b"IxFI"  # the first bytes of a flat inner-product FAISS file (then d: int32, ntotal: int64)

class FaissStore(VectorStore):
    """Rows in a FAISS file: a flat inner-product index, or an HNSW graph around one."""

    name = "faiss"
    suffix = ".faiss"
    graphs_here = True

    def __init__(self, faiss_index) -> None:
        faiss, _ = import_faiss()
        self._faiss = faiss_index  # what is saved: the flat rows, or an HNSW graph around them
        self._graph = isinstance(faiss_index, faiss.IndexHNSW)
        # the flat rows (the graph's storage, which the graph owns and keeps alive): searched exactly through
        # llama-index; counted, read back and scored directly
        self._flat = faiss.downcast_index(faiss_index.storage) if self._graph else faiss_index
        self._wrapper = None

    @property
    def faiss_index(self):
        """The FAISS index the store saves: its flat rows, or an HNSW graph around them."""
        return self._faiss

    @property
    def _vs(self):
        if self._wrapper is None:
            _, FaissVectorStore = import_faiss(wrapper=True)
            self._wrapper = FaissVectorStore(faiss_index=self._flat)
        return self._wrapper

    @classmethod
    def from_vectors(cls, matrix: np.ndarray) -> "FaissStore":
        faiss, _ = import_faiss()
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        index = faiss.IndexFlatIP(matrix.shape[1])
        if len(matrix):
            index.add(matrix)
        return cls(index)

    @classmethod
    def load(cls, path: Path, url: str | None = None) -> "FaissStore":
        faiss, _ = import_faiss()
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
        faiss, _ = import_faiss()
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
        faiss, _ = import_faiss()
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        index = empty_graph(matrix.shape[1])
        order = np.arange(len(matrix))
        if donor is not None:
            kept, new = np.flatnonzero(donor[1] >= 0), np.flatnonzero(donor[1] < 0)
            graft(index, donor[0]._faiss.hnsw, donor[1][kept], matrix[kept])
            order = np.concatenate([kept, new])  # graph node j is row order[j]
        for first in range(int(index.ntotal), len(matrix), GRAPH_BLOCK):
            if pause is not None:
                pause()
            index.add(matrix[order[first:first + GRAPH_BLOCK]])
        if donor is not None:
            graph = (*graph_arrays(index.hnsw), index.hnsw.entry_point)
            del index  # its copy of the rows, before the one in row order is made
            index = relabelled(graph, order, matrix)
        return cls(index)

    def vectors(self, writable: bool = False) -> np.ndarray:
        """The rows as stored, without a copy (a flat index keeps them as one float32 array); read-only unless
        `writable`, which is for filling a store made by `allocate`."""
        faiss, _ = import_faiss()
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
        faiss, _ = import_faiss()
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
        faiss, _ = import_faiss()
        k = max(0, min(int(k), len(self)))
        if not k:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.ascontiguousarray(query, dtype=np.float32)[None, :]
        if self._graph:
            sims, ids = self._faiss.search(query, k, params=faiss.SearchParametersHNSW(efSearch=search_breadth(k)))
            found = ids[0] >= 0  # a graph may reach fewer than k rows
            return ids[0][found].astype(np.int64), sims[0][found]
        sims, ids = self._flat.search(query, k)
        return ids[0].astype(np.int64), sims[0]

    def keeps_graph(self) -> bool:
        return self._graph

    def lacks_search_index(self) -> bool:
        return not self._graph and self.graphed(len(self))

    @classmethod
    def file_lacks_search_index(cls, path: Path) -> bool:
        """`lacks_search_index` of the store in this file, from its first 16 bytes (a flat file's row count)."""
        with open(path, "rb") as fh:
            head = fh.read(16)
        return head[:4] == _FLAT_IP and len(head) == 16 and cls.graphed(int.from_bytes(head[8:], "little"))

    def similarities_of(self, query: np.ndarray, ids) -> np.ndarray:
        # the same kernel on the given rows of the mapped memory: equal, bit for bit, to those rows of `similarities`
        faiss, _ = import_faiss()
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
        faiss, _ = import_faiss()
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        faiss.write_index(self._faiss, str(part))
        os.replace(part, path)

    @classmethod
    def persist(cls, built: VectorStore, path: Path, url: str | None = None, rows: tuple[int, int] | None = None,
                graph: SearchGraph | None = None) -> "FaissStore":
        """A FAISS file of rows `first` to `last` of `rows` (all by default); with `graph`, rows of `ANN_MIN_ROWS` or
        more are an HNSW graph around them (`with_graph`, keeping the donor's graph if it has one)."""
        first, last = rows or (0, len(built))
        whole = (first, last) == (0, len(built)) and isinstance(built, FaissStore) and not built._graph
        if graph is not None and cls.graphed(last - first):
            donor = graph.donor if graph.donor is not None and graph.donor[0].keeps_graph() else None
            store = cls.with_graph(built.between(first, last), graph.pause, donor)
        elif not whole:  # written from the rows themselves, then mapped: no copy into a flat index first
            path.parent.mkdir(parents=True, exist_ok=True)
            write_flat(path, built.between(first, last))
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
