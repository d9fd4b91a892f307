"""Where the vectors live: a backend per config `store`, behind the contract of `VectorStore` (base.py).

The rest of the package asks for a store by its configured name (`store_class`) and builds into `buffer`; only this
package names a backend."""

from __future__ import annotations

from .base import ANN_MIN_ROWS, SearchGraph, VectorStore
from .faiss import FaissStore
from .parts import Parts
from .postgres import PostgresStore

__all__ = ["ANN_MIN_ROWS", "STORES", "SearchGraph", "VectorStore", "buffer", "store_class", "joined"]

# name (config `store`) -> backend; faiss and psycopg are imported when a store first needs them
STORES: dict[str, type[VectorStore]] = {FaissStore.name: FaissStore, PostgresStore.name: PostgresStore}


def store_class(name: str) -> type[VectorStore]:
    """The backend config `store = name` selects (KeyError for another name: config validates it first)."""
    return STORES[name]


def buffer(n: int, dim: int) -> VectorStore:
    """A store of n zero rows in this process, filled in place through `vectors(writable=True)`: every build fills
    one of these and then persists it where the configured backend keeps rows."""
    return FaissStore.allocate(n, dim)


def joined(parts: list[VectorStore]) -> VectorStore:
    """The rows of several stores as one, without copying them (the first itself when it is the only one)."""
    return Parts.concatenated(parts)
