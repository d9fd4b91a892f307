"""`Assistant`: the one object the CLI, the web UI and the eval harness talk to.

It owns the config, the embedder (loaded once), and the live index. The index is brought up to date with the
corpus on first use (an incremental update: only added or changed articles are embedded), so
`Assistant().retrieve("...")` works on a fresh checkout. Everything it raises is an `AssistantError`.
"""

from __future__ import annotations

import logging

from .chunk import Passage
from .config import Config
from .embed import Embedder, make_embedder
from .errors import ConfigError
from .index import IndexReport, update_index
from .ingest import Article, Corpus, load_corpus
from .question import clean_question
from .retrieve import Retriever

__all__ = ["Assistant"]

log = logging.getLogger(__name__)


class Assistant:
    """Grounded question answering over the articles in `config.corpus_dir`."""

    def __init__(self, config: Config | None = None, *, progress: bool = False) -> None:
        if config is not None and not isinstance(config, Config):
            raise ConfigError(f"config must be an assistant.Config, got {type(config).__name__}")
        self.config = config or Config.load()
        self.progress = progress
        self._embedder: Embedder | None = None
        self._retriever: Retriever | None = None
        self._corpus: Corpus | None = None
        self.last_index_report: IndexReport | None = None

    # -- components, loaded on first use ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.config.embedder, self.config.embedder_model,
                                           self.config.embed_batch_size)
        return self._embedder

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = load_corpus(self.config.corpus_dir)
        return self._corpus

    def index(self, *, rebuild: bool = False) -> IndexReport:
        """Re-read the corpus and bring the persisted index up to date; returns what changed."""
        self._corpus = load_corpus(self.config.corpus_dir)
        index, report = update_index(self.config, self._corpus, self.embedder, rebuild=rebuild,
                                     progress=self.progress)
        self._retriever = Retriever(index, self.embedder, self.config)
        self.last_index_report = report
        return report

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self.index()
        return self._retriever

    def article(self, source: str) -> Article | None:
        """The article with this file name, as read (its `text` is what passage offsets point into)."""
        return self.corpus.get(source)

    # -- the API -----------------------------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        """The `k` passages that best match `question`, best first, each with its source, offsets and score."""
        question = clean_question(question, self.config.max_question_chars)
        k = self.config.k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive whole number, got {k!r}")
        mode = mode or self.config.retrieval_mode
        if mode not in ("dense", "bm25", "hybrid"):
            raise ConfigError(f"retrieval mode must be dense, bm25 or hybrid, got {mode!r}")
        return self.retriever.search(question, k, mode)
