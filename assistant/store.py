"""Vector stores: exact inner-product search over unit vectors, persisted to one file.

`VectorStore` has two abstract methods, `search` and `save`; a store is built from a (n, dim) matrix whose row i
belongs to passage i, and `vectors()` gives the rows back so an incremental re-index can reuse the embeddings of
unchanged articles instead of recomputing them. Backends by name (`STORES`):

- `faiss`: a flat inner-product FAISS index searched and persisted through llama-index's `FaissVectorStore` (the
  design's FAISS-through-llama-index). The store holds the raw FAISS index it gives the wrapper (the wrapper has no
  public accessor for it) to count, size and read back vectors; loading is `faiss.read_index`, which is what
  `FaissVectorStore.from_persist_path` does. Flat search is exact. Dense scoring
  reads every row (`similarities`, FAISS's own inner-product kernel: 18 ms over the 256,000 sentences of 9,000
  articles), and `vectors()` is a read-only view of the index's memory, not a copy.

Errors reading a persisted file surface as `IndexCorruptError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from .errors import IndexCorruptError

__all__ = ["VectorStore", "FaissStore", "STORES"]


class VectorStore(ABC):
    name: str = ""

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

    # Concrete backends also provide: from_vectors(matrix), allocate(n, dim), load(path), vectors(writable), __len__.


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


class FaissStore(VectorStore):
    name = "faiss"

    def __init__(self, faiss_index) -> None:
        self._faiss = faiss_index  # searched and saved through llama-index; counted, read back and scored directly
        self._wrapper = None

    @property
    def _vs(self):
        if self._wrapper is None:
            _, FaissVectorStore = _import_faiss_store(wrapper=True)
            self._wrapper = FaissVectorStore(faiss_index=self._faiss)
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
    def load(cls, path: Path) -> "FaissStore":
        faiss, _ = _import_faiss_store()
        if not path.is_file():
            raise IndexCorruptError(f"vector file missing: {path}")
        try:
            return cls(faiss.read_index(str(path)))  # what FaissVectorStore.from_persist_path does
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

    def vectors(self, writable: bool = False) -> np.ndarray:
        """The rows as stored, without a copy (a flat index keeps them as one float32 array); read-only unless
        `writable`, which is for filling a store made by `allocate`."""
        faiss, _ = _import_faiss_store()
        n = len(self)
        if not n:
            return np.zeros((0, self.dim), dtype=np.float32)
        view = faiss.rev_swig_ptr(self._faiss.get_xb(), n * self.dim).reshape(n, self.dim).view(_Rows)
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
            faiss.fvec_inner_products_ny(faiss.swig_ptr(sims), faiss.swig_ptr(query), self._faiss.get_xb(), self.dim,
                                         n)
        return sims

    def save(self, path: Path) -> None:
        self._vs.persist(persist_path=str(path))


STORES: dict[str, type[FaissStore]] = {FaissStore.name: FaissStore}
