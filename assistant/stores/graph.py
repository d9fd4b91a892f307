"""HNSW graph surgery for the `faiss` store: a part written in place of another keeps the other's graph for the rows
they share, and only the new rows are added to it (building a part's graph again was half of an update that changed
one article; docs/scale.md)."""

from __future__ import annotations

import numpy as np

from ..errors import IndexCorruptError

# M, the links of a node: 32 kept recall@10 at 0.97-0.99 over a part of 65,531 sentences where 16 gave 0.56
# (docs/scale.md); the graph adds 272 bytes to the 1,536 of a row.
HNSW_NEIGHBOURS = 32
HNSW_BUILD_BREADTH = 40  # efConstruction: FAISS's default


def import_faiss(wrapper: bool = False):
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


def empty_graph(dim: int):
    """An empty HNSW index of `dim` numbers a row, inner product, with this module's M and efConstruction."""
    faiss, _ = import_faiss()
    index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_BUILD_BREADTH
    return index


def graph_arrays(hnsw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An HNSW graph's levels (per node), offsets (where each node's links start, one more) and links (-1 where
    a list ends early)."""
    faiss, _ = import_faiss()
    return (faiss.vector_to_array(hnsw.levels), faiss.vector_to_array(hnsw.offsets).astype(np.int64),
            faiss.vector_to_array(hnsw.neighbors))


def set_graph(index, rows: np.ndarray, levels: np.ndarray, links: np.ndarray, entry: int) -> None:
    """Make `index` (an empty HNSW index) hold these rows with this graph (nodes in row order)."""
    faiss, _ = import_faiss()
    hnsw = index.hnsw
    sizes = np.array([hnsw.cum_nb_neighbors(int(level)) for level in range(int(levels.max()) + 1)])[levels]
    faiss.copy_array_to_vector(levels.astype(np.int32), hnsw.levels)
    faiss.copy_array_to_vector(np.concatenate([[0], np.cumsum(sizes)]).astype(np.uint64), hnsw.offsets)
    faiss.copy_array_to_vector(links.astype(np.int32), hnsw.neighbors)
    hnsw.entry_point, hnsw.max_level = int(entry), int(levels.max()) - 1
    index.storage.add(np.ascontiguousarray(rows))
    index.ntotal = len(rows)


def segments(offsets: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the links of these nodes are, in order (an index into the links array), and whose each one is (int32:
    a part's sentences have about 4 million links)."""
    sizes = offsets[nodes + 1] - offsets[nodes]
    starts = np.cumsum(sizes) - sizes
    at = np.repeat((offsets[nodes] - starts).astype(np.int32), sizes)
    at += np.arange(len(at), dtype=np.int32)
    return at, np.repeat(np.arange(len(nodes), dtype=np.int32), sizes)


def graft(index, donor, rows_of_donor: np.ndarray, rows: np.ndarray) -> None:
    """Give the empty HNSW `index` the donor graph's nodes `rows_of_donor`, in that order, holding `rows`: their
    levels and links, a link to a node not kept dropped (each level's list stays -1-terminated, as FAISS reads
    it)."""
    levels, offsets, links = graph_arrays(donor)
    node = np.full(len(levels), -1, dtype=np.int32)
    node[rows_of_donor] = np.arange(len(rows_of_donor))
    at, owner = segments(offsets, rows_of_donor)
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
    set_graph(index, rows, levels[rows_of_donor], kept, entry)


def relabelled(graph: tuple, order: np.ndarray, matrix: np.ndarray):
    """The HNSW index of `matrix` whose graph (levels, offsets, links, entry node) has its node j at row order[j],
    with its nodes in row order."""
    levels, offsets, links, entry = graph
    order = order.astype(np.int32)
    position = np.empty_like(order)
    position[order] = np.arange(len(order))  # the node of each row
    at, _ = segments(offsets, position)
    renamed = links[at]
    renamed = np.where(renamed >= 0, order[np.maximum(renamed, 0)], -1)
    out = empty_graph(matrix.shape[1])
    set_graph(out, matrix, levels[position], renamed, order[entry])
    return out
