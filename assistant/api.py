"""`Assistant`: the one object the CLI, the web UI and the eval harness talk to.

It owns the config, the embedder and the generator (each loaded once, on first use), and the live index. The index
is brought up to date with the corpus on first use (an incremental update: only added or changed articles are
embedded), so `Assistant().retrieve("...")` and `Assistant().ask("...")` work on a fresh checkout. Everything it
raises is an `AssistantError`.

How a question is answered, step by step: answering.py.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager, suppress
from typing import Iterator, Sequence

from . import answering, library, prompt
from .answering import candidates, kind_of
from .answer import Answer, Draft
from .chunk import Passage
from .config import RETRIEVAL_MODES, Config
from .embed import Embedder, make_embedder
from .errors import AssistantError, ConfigError
from .evidence import Evidence
from .generate import Generator, make_generator
from .extract import FORMATS
from .index import IndexReport, cleaning_cache, indexed_fingerprints, up_to_date, update_index
from .ingest import MANIFEST, Article, Corpus, load_corpus
from .library import ArticleInfo
from .lang import detect_language, warm_detector
from .question import clean_question
from .retrieve import Retriever

__all__ = ["Assistant", "Readers"]

log = logging.getLogger(__name__)

class Assistant:
    """Grounded question answering over the articles in `config.corpus_dir`."""

    def __init__(self, config: Config | None = None, *, progress: bool = False, generator: Generator | None = None,
                 embedder: Embedder | None = None, readers: Readers | None = None,
                 index: tuple[Corpus, Retriever] | None = None) -> None:
        """Components already loaded may be given; the others are loaded on first use. `generator`: the reader to
        use instead of the one `config` names (a wrapper, a shared model); `embedder`: the embedder (the index's, if
        `index` is given); `readers`: loaded readers to share (with their count of questions in flight); `index`: a
        corpus and a retriever over its index, built by another assistant with the same corpus and embedder."""
        if config is not None and not isinstance(config, Config):
            raise ConfigError(f"config must be an assistant.Config, got {type(config).__name__}")
        self.config = config or Config.load()
        self.progress = progress
        self._embedder = embedder
        # loaded readers by name (config.model), shared with the views of with_settings: a session of the web UI
        # may pick any loaded one
        self._readers = readers if readers is not None else Readers()
        if generator is not None:
            self._readers = self._readers.with_reader(self.config.model, generator)
        self._corpus: Corpus | None = None  # read before the first index (article listing)
        # the corpus and the retriever over its index, as one pair: a background update swaps both at once, and a
        # question holds one pair from retrieval to verification
        self._live: tuple[Corpus, Retriever] | None = index
        self.last_index_report: IndexReport | None = None
        # the corpus folder as last indexed; None for a given index, taken as current at the first refresh (a view
        # is made for every web question: it should not list the folder)
        self._signature: tuple | None = None if index is not None else ()
        self._building = threading.Lock()  # one index update at a time
        self._update: _BackgroundUpdate | None = None

    # -- components, loaded on first use ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use."""
        if self._embedder is None:
            self._embedder = make_embedder(self.config.embedder, self.config.embedder_model,
                                           self.config.embed_batch_size)
        return self._embedder

    @property
    def generator(self) -> Generator:
        """The reader `config.model` names, loaded on first use."""
        return self.load_reader(self.config.model)

    def load_reader(self, model: str) -> Generator:
        """Load the reader `model` (a reader name or a .gguf path; the server for generator = "openai") once and keep
        it: views with `with_settings(model=...)` can then use it."""
        if model not in self._readers:
            generator = make_generator(self.config.replace(model=model))
            generator.warm(list(prompt.static_messages(self.config.spotlight)))  # the prompt's fixed part, read once at load
            self._readers[model] = generator
        return self._readers[model]

    def warm(self) -> None:
        """Load the language detector and the reader, and have the reader read the fixed parts of both prompts now (a
        server does, before its first question; otherwise the first question of each kind waits for them)."""
        warm_detector()
        generator = self.generator
        if self.config.long_answers:
            generator.for_prompt(prompt.static_long_messages(self.config.spotlight))

    @property
    def readers(self) -> list[str]:
        """The readers loaded so far, by name."""
        return list(self._readers)

    @property
    def corpus(self) -> Corpus:
        """The live corpus (indexing first when there is none yet)."""
        if self._live is not None:
            return self._live[0]
        if self._corpus is None:
            self._corpus = load_corpus(self.config.corpus_dir, self.config.max_article_bytes,
                                       cleaning_cache(self.config.index_dir))
        return self._corpus

    def index(self, *, rebuild: bool = False, load: bool = True) -> IndexReport:
        """Re-read the corpus and bring the persisted index up to date; returns what changed. `load=False`: when the
        persisted index is already up to date and this assistant holds none, it is not read into this assistant
        (`assistant index`: at 10,000 articles, 0.6 s instead of 2.5-2.9 s); a question reads it then."""
        with self._building:
            signature, corpus = _corpus_signature(self.config.corpus_dir), None  # before reading: a later edit shows
            if not (load or rebuild or self._live is not None):
                corpus = self._load_corpus()
                report = up_to_date(self.config, corpus, self.embedder)
                if report is not None:
                    self._corpus = corpus
                    self.last_index_report = report
                    return report
            self._signature = signature
            self._live, self.last_index_report = self._build(self.embedder, rebuild, corpus)
        return self.last_index_report

    def _load_corpus(self, rebuild: bool = False) -> Corpus:
        cache = cleaning_cache(self.config.index_dir)
        if rebuild:  # a rebuild asked for re-reads every file from scratch
            with suppress(OSError):
                cache.unlink(missing_ok=True)
        return load_corpus(self.config.corpus_dir, self.config.max_article_bytes, cache, progress=self.progress)

    def _build(self, embedder: Embedder, rebuild: bool = False, corpus: Corpus | None = None,
               on_embedded=None) -> tuple[tuple[Corpus, Retriever], IndexReport]:
        corpus = corpus if corpus is not None else self._load_corpus(rebuild)
        live = self._live[1] if self._live is not None else None
        index, report = update_index(self.config, corpus, embedder, rebuild=rebuild,
                                     current=live.index if live is not None else None,
                                     progress=on_embedded if on_embedded is not None else self.progress)
        if live is not None and index is live.index:  # nothing changed: the retriever (and its caches) stays
            return (corpus, live), report
        return (corpus, Retriever(index, self.embedder, self.config)), report

    def refresh(self, *, wait: bool = True) -> IndexReport | None:
        """Re-index if a file in the corpus folder was added, changed or removed since the last `index()` (a
        long-running server picks up new articles this way); None when nothing changed. Costs a directory listing.

        With `wait=False` (the web server) the update runs in a background thread: questions keep the previous index
        until the new one is ready, and the update embeds only while no question is being answered (the reader and
        the embedder would share 2 cores). The call returns at once: the report of an update that finished since
        the last call, else None; an update that failed raises its error here, once, and the previous index stays."""
        if not wait:
            return self._refresh_in_background()
        with self._building:  # a background update in flight finishes first
            pass
        self._adopt_signature()
        if self._live is not None and _corpus_signature(self.config.corpus_dir) == self._signature:
            return None
        return self.index()

    def _refresh_in_background(self) -> IndexReport | None:
        update = self._update
        if update is not None and update.done.is_set():
            self._update = None
            if update.error is not None:
                raise update.error
            return update.report
        if update is not None:  # one at a time
            return None
        if self._live is None:  # the very first index is built in the open: there is no previous one to answer from
            return self.index()
        self._adopt_signature()
        signature = _corpus_signature(self.config.corpus_dir)
        if signature == self._signature:
            return None
        self._update = _BackgroundUpdate(self, signature)
        return None

    def _adopt_signature(self) -> None:
        if self._signature is None:  # an index given to the constructor is the current corpus's
            self._signature = _corpus_signature(self.config.corpus_dir)

    def _update_in_background(self, update: _BackgroundUpdate, signature: tuple) -> None:
        """Build the new index (embedding only between questions), then swap it in; the thread of `update`."""
        try:
            with self._building:
                try:
                    live, report = self._build(_Paced(self.embedder, self._readers), on_embedded=update.embedded)
                finally:
                    self._signature = signature  # not retried until the corpus changes again
                self._live, self.last_index_report, update.report = live, report, report
            log.info("index updated in the background: %s", report.summary())
        except AssistantError as exc:  # kept for the next refresh; the previous index stays live
            update.error = exc
            log.warning("index update failed, the previous index stays: %s", exc)
        except Exception as exc:  # noqa: BLE001 - a thread's crash would otherwise be lost
            update.error = AssistantError(f"index update failed: {type(exc).__name__}: {exc}")
            log.exception("index update failed")
        finally:
            update.done.set()

    @property
    def answering_now(self) -> int:
        """How many questions the readers are answering at this moment (a background update waits for none)."""
        return self._readers.in_flight

    @property
    def updating(self) -> bool:
        """Is a background index update (`refresh(wait=False)`) running?"""
        return self._update is not None and not self._update.done.is_set()

    def wait_for_update(self, timeout: float | None = None) -> bool:
        """Wait for a background index update to end (the next `refresh(wait=False)` then returns its report); False
        when it is still running after `timeout` seconds."""
        update = self._update
        return update is None or update.done.wait(timeout)

    @property
    def retriever(self) -> Retriever:
        """The live retriever (indexing first when there is none yet)."""
        return self._indexed()[1]

    def _indexed(self) -> tuple[Corpus, Retriever]:
        """The live (corpus, retriever) pair, indexing on first use."""
        if self._live is None:
            self.index()
        return self._live

    def article(self, source: str) -> Article | None:
        """The article with this file name, as read (its `text` is what passage offsets point into)."""
        return self.corpus.get(source)

    # -- the user's articles (library.py) --------------------------------------------------------------------------
    def add(self, path_or_url: str | os.PathLike, *, name: str | None = None, wait: bool = True,
            index: bool = True) -> ArticleInfo:
        """Add a file (.txt .md .html .pdf .docx) or the page at a URL to the corpus, then update the index (with
        `wait=False`, in the background, as the web UI does; `index=False`: not now, as for a batch of files).
        `name`: the file's name as the user knows it. Raises CorpusError with one line when it cannot be read or
        fetched: nothing is written then."""
        article_id, _ = library.add(self.config, path_or_url, name=name)
        if index:
            self.refresh(wait=wait)
        return self.article_info(article_id)

    def remove(self, article_id: str, *, wait: bool = True) -> None:
        """Remove an article (its id, as `articles()` lists it) from the corpus and from the index."""
        library.remove(self.config, article_id)
        self.refresh(wait=wait)

    def articles(self) -> list[ArticleInfo]:
        """Every file of the corpus folder the assistant reads, with its status: indexed, waiting, indexing (and
        the share embedded) or skipped (and why); sorted by id."""
        folder = self.config.corpus_dir
        if self._live is not None:
            corpus, indexed = self._live[0], self._live[1].index.manifest["articles"]
            indexed = {s: a["fingerprint"] for s, a in indexed.items()}
        else:
            corpus, indexed = self._load_corpus(), indexed_fingerprints(self.config)
        manifest = library.read_manifest(folder)
        current = _corpus_signature(folder)
        # the files as they were when the live index was read from them (a fresh read: as they are now)
        seen = set(current if self._live is None or not self._signature else self._signature)
        read = {a.source: a for a in corpus.articles}
        problems = {p.source: p.reason for p in corpus.problems}
        update = self._update if self.updating else None
        rows = []
        for entry in current:
            name, size, _ = entry
            if os.path.splitext(name)[1].lower() not in FORMATS or name == MANIFEST:
                continue
            meta, article, same = manifest.get(name, {}), read.get(name), entry in seen
            if article is not None and same and indexed.get(name) == article.fingerprint:
                status, reason = "indexed", ""
            elif name in problems and same:
                status, reason = "skipped", problems[name]
            else:
                status, reason = ("indexing", "") if update is not None else ("waiting", "")
            rows.append(ArticleInfo(
                name, article.title if article else str(meta.get("title") or name),
                article.language if article else str(meta.get("language") or ""), str(meta.get("date") or ""),
                size, status, reason, str(meta.get("url") or ""),
                update.share if status == "indexing" and update is not None else None))
        return rows

    def article_meta(self, sources) -> dict[str, dict]:
        """What the corpus manifest records of each of `sources` (date, url, author, site, file), for citations."""
        manifest = library.read_manifest(self.config.corpus_dir)
        keys = ("date", "url", "author", "site", "file")
        return {s: {k: str(manifest[s][k]) for k in keys if manifest.get(s, {}).get(k)} for s in sources}

    def article_info(self, article_id: str) -> ArticleInfo | None:
        """`articles()`'s row for one article, None when there is no such file."""
        return next((a for a in self.articles() if a.id == article_id), None)

    def with_settings(self, **changes) -> "Assistant":
        """A view of this assistant with some config values changed (`k`, `retrieval_mode`, `answer_mode`, ...),
        sharing the loaded embedder, readers, index and corpus: the web UI's per-session settings. Changes to how the
        index is built (embedder, chunking) are refused: they need their own index; `model` may name a reader that
        is already loaded (`readers`)."""
        fixed = set(Config.keys(fixed=True))  # the index's build settings, the paths, the reader's server
        if fixed & set(changes):
            raise ConfigError(f"cannot change {', '.join(sorted(fixed & set(changes)))} on a running assistant")
        if "model" in changes and changes["model"] != self.config.model and changes["model"] not in self._readers:
            raise ConfigError(f"the reader {changes['model']!r} is not loaded; loaded: {', '.join(self._readers)}")
        config = self.config.replace(**changes)
        corpus, retriever = self._indexed()  # index first, so the view shares it
        # the view's retrieval settings over the shared index
        return Assistant(config, progress=self.progress, embedder=self.embedder, readers=self._readers,
                         index=(corpus, retriever.with_config(config)))

    def with_reader(self, generator: Generator) -> "Assistant":
        """A view of this assistant (index, embedder, corpus shared) that answers with `generator`: a reader loaded
        elsewhere, a server, a wrapper such as the evaluation's cache, or a test's scripted reader."""
        corpus, retriever = self._indexed()
        return Assistant(self.config, progress=self.progress, embedder=self.embedder, generator=generator,
                         readers=self._readers, index=(corpus, retriever))

    # -- the API -----------------------------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        """The `k` passages that best match `question`, best first, each with its source, offsets and score."""
        question = clean_question(question, self.config.max_question_chars)
        k = self.config.k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive whole number, got {k!r}")
        mode = mode or self.config.retrieval_mode
        if mode not in RETRIEVAL_MODES:
            raise ConfigError(f"retrieval mode must be one of {', '.join(RETRIEVAL_MODES)}, got {mode!r}")
        return self.retriever.search(question, k, mode)

    def ask(self, question: str, history: Sequence | None = None) -> Answer:
        """A short answer with verified citations, or a refusal; docs/design.md has the steps."""
        result = None
        for item in self.stream(question, history):
            result = item
        return result

    def evidence(self, question: str, history: Sequence | None = None) -> tuple[list[Passage], list[Evidence]]:
        """The retrieved passages and the numbered evidence sentences that `ask` would show the reader, best first
        (none when the question is refused before the reader is asked)."""
        question = clean_question(question, self.config.max_question_chars)
        language = detect_language(question)
        passages, evidence, _, _ = candidates(self.config, question, history, self._indexed(), language,
                                              kind_of(self.config, question, language))
        return passages, evidence

    def kind(self, question: str, language: str) -> str:
        """What the question asks for (kinds.py); "fact" for every question when `long_answers` is off."""
        return kind_of(self.config, question, language)

    def stream(self, question: str, history: Sequence | None = None) -> Iterator[Draft | Answer]:
        """Yield `Draft` pieces as the reader writes them, then the final `Answer`. The pieces are the reader's
        draft; the final `Answer.text` is what survived verification and is the one to show."""
        with self._readers.answering():
            yield from answering.stream(self.config, self._indexed, lambda: self.generator,
                                        lambda texts: self.embedder.embed(texts, "passage"), question, history)

class Readers(dict):
    """The loaded readers by name, and the count of questions they are answering: a background index update waits
    for none before each embedding batch. Views of an assistant share one."""

    def __init__(self, loaded: dict[str, Generator] | None = None, *, shares: "Readers | None" = None) -> None:
        super().__init__(loaded or {})
        self._changed = shares._changed if shares is not None else threading.Condition()
        self._count = shares._count if shares is not None else [0]  # a list: shared with `shares`

    def with_reader(self, name: str, generator: Generator) -> "Readers":
        """These readers with `generator` as `name`, counting questions together with these."""
        return Readers({**self, name: generator}, shares=self)

    @property
    def in_flight(self) -> int:
        """How many questions are being answered now."""
        return self._count[0]

    @contextmanager
    def answering(self):
        """Count a question as being answered while the block runs."""
        with self._changed:
            self._count[0] += 1
        try:
            yield
        finally:
            with self._changed:
                self._count[0] -= 1
                self._changed.notify_all()

    def wait_idle(self) -> None:
        """Wait until no question is being answered."""
        with self._changed:
            self._changed.wait_for(lambda: self._count[0] == 0)


class _Paced(Embedder):
    """An embedder for a background update: the assistant's own, waiting before each batch until no question is
    being answered (llama.cpp slows to a crawl when it shares the 2 cores)."""

    def __init__(self, inner: Embedder, readers: Readers) -> None:
        super().__init__(inner.model, inner.batch_size)
        self.inner, self.readers = inner, readers
        self.name, self.dim, self.identity = inner.name, inner.dim, inner.identity

    def before_batch(self) -> None:
        self.readers.wait_idle()

    def encode_batch(self, texts, kind):
        return self.inner.encode_batch(texts, kind)


class _BackgroundUpdate:
    """One `refresh(wait=False)`: `Assistant._update_in_background` in a thread; its report or error when done."""

    def __init__(self, assistant: Assistant, signature: tuple) -> None:
        self.report: IndexReport | None = None
        self.error: AssistantError | None = None
        self.done = threading.Event()
        self.share: float = 0.0  # of the texts to embed, embedded so far
        threading.Thread(target=assistant._update_in_background, args=(self, signature), name="index-update",
                         daemon=True).start()

    def embedded(self, done: int, total: int) -> None:
        """Record the share of the update's texts embedded so far."""
        self.share = done / total if total else 1.0


def _corpus_signature(folder) -> tuple:
    """(name, size, mtime) of every file in the corpus folder: changes when an article is added, edited or removed."""
    try:  # scandir: a file's type comes with the listing, so one stat each (a refresh before every question)
        with os.scandir(folder) as listing:
            return tuple(sorted((e.name, st.st_size, st.st_mtime_ns) for e in listing if e.is_file()
                                for st in (e.stat(),)))
    except OSError:
        return ()
