"""`Parts`: the rows of several stores, one after the other, without copying them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import VectorStore, summed

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
        """`ask(item)` for each item, in order: at once when the parts are an engine's tables (`postgres.engine_each`), in
        turn when they are in this process (FAISS's kernels would take the cores a reader or embedder needs)."""
        if any(p.local for p in self.parts):
            return [ask(x) for x in items]
        from .postgres import engine_each  # the engine's worker pool

        return engine_each(ask, items)

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
        if all(p.local for p in self.parts):  # rows in this process: summed here
            # summed row after row, carried from part to part, as numpy sums one array's rows: the mean of a
            # one-part store bit for bit, without a copy of every selected row
            total, count = None, 0
            for p, a, b in self._spans():
                total, n = summed(p.vectors(), mask[a:b], total)
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

    @classmethod
    def persist(cls, built, path, url=None, rows=None, graph=None) -> VectorStore:
        raise TypeError("a store of parts is persisted by the backend of its parts, part by part")

    @classmethod
    def load(cls, path: Path, url: str | None = None) -> VectorStore:
        raise TypeError("a store of parts is loaded by the backend of its parts, part by part")

    @classmethod
    def concatenated(cls, parts: list[VectorStore]) -> VectorStore:
        return parts[0] if len(parts) == 1 else cls(parts)

