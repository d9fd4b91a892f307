"""`update_index`: bring the index in line with the corpus, as a sequence of named steps.

Incremental: articles whose fingerprint (bytes, title, language, cleaning version) and chunking parameters are
unchanged keep their passages and vectors (read back from the store); added and changed articles are chunked and
embedded; removed ones are dropped. Word vectors are reused by word. New chunking parameters chunk every article
again but keep the vectors of the texts that stay the same, so only new passages are embedded. Another embedder, another
format, or an unreadable generation rebuild everything, announced with a warning, never a silent mix of vector
spaces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..checkpoint import Checkpoint
from ..config import Config
from ..chunk import Passage, chunk_article
from ..embed import Embedder
from ..errors import IndexCorruptError
from ..ingest import Corpus, progress_bar
from ..bm25 import BM25, bm25_docs, bm25_terms
from ..stores import VectorStore, buffer, joined, store_class
from ..table import PassageTable, sentence_table
from .generation import Reuse, Target, build_lock, write_generation
from .layout import FORMAT_VERSION, chunking, is_live, live_store
from .load import load_index
from .model import Index, IndexReport
from .parts import PART_SENTENCES, part_stores, parts_lacking_search_index, plan_parts, table_of, word_part_stores
from .vectors import POOL_BLOCK, centroids_of, embed_into, grown_centroids, pooled_passage_vectors
from .vocabulary import Vocabulary, update_vocabulary

log = logging.getLogger("assistant.index")

Progress = bool | Callable[[int, int], None]


def update_index(config, corpus: Corpus, embedder: Embedder, *, rebuild: bool = False, current: Index | None = None,
                 progress: Progress = True) -> tuple[Index, IndexReport]:
    """Bring the index in `config.index_dir` in line with `corpus`; returns the live index and what changed.
    `current`: an index this process already holds; when it is still the live generation it is used as it is instead
    of being read again, and returned unchanged when nothing changed. `progress`: a bar on the terminal, or a
    function called with (done, total) as texts are embedded (the web UI's progress bar)."""
    with build_lock(Path(config.index_dir)):
        store_class(config.store).check(config.store_url)  # an engine that cannot be reached fails before any work
        index, report = _update(_Build(config, corpus, embedder, progress), rebuild, current)
        if config.candidates > 0:  # set after the index was built: an engine's tables get their search index now
            for store in (index.store, index.sentence_store, index.word_store):
                store.add_search_index()
        return index, report


@dataclass
class _Build:
    """What the steps of one update share."""

    config: Config
    corpus: Corpus
    embedder: Embedder
    progress: Progress
    report: IndexReport = field(default_factory=IndexReport)
    old: Index | None = None  # the live index, when its vectors and passages fit this config
    donor: Index | None = None  # the live index when only chunking changed: its vectors of the same texts fit
    by_article: dict[str, list[Passage] | None] = field(default_factory=dict)  # None: unchanged, passages unread
    kept: list[int] = field(default_factory=list)  # the old parts kept, in order
    part_rows: list[tuple[int, int]] = field(default_factory=list)
    passages: PassageTable | None = None
    fresh: list[Passage] = field(default_factory=list)  # the passages of the parts written
    reused: Index | None = None  # whose vectors are read back
    rows_from: tuple = ()  # (passages, sentences, words) written: the row of `reused` each comes from, or -1
    vocab: Vocabulary | None = None
    sentences: list = field(default_factory=list)  # the sentences of the parts written, (source, start, end)
    new_rows: dict = field(default_factory=dict)  # their rows, from the first written on
    old_table: PassageTable | None = None  # the old index's passages, a segment per part
    checkpoint: Checkpoint | None = None  # what this build embedded, until it is written

    @property
    def head_w(self) -> int:
        """The rows of the word parts kept; those after are written."""
        return sum(self.vocab.parts[:self.vocab.kept_parts])


def _update(b: _Build, rebuild: bool, current: Index | None) -> tuple[Index, IndexReport]:
    t0 = time.perf_counter()
    b.report.skipped = [str(p) for p in b.corpus.problems]
    _read_live(b, rebuild, current)
    _check_fit(b)
    _chunk_changes(b)
    report, old, config = b.report, b.old, b.config
    # with `candidates`, the kept parts that lack the search index only writing them can give are written again
    report.searchable = parts_lacking_search_index(old) if old is not None and config.candidates > 0 else 0
    if old is not None and not (report.added or report.changed or report.removed):  # the old passages are the corpus's
        report.passages = len(old.passages)
        if report.searchable:  # the same parts, the same rows, with their graphs
            old.path = write_generation(_target(b), old, Reuse(old, list(range(len(old.part_rows))),
                                                               len(old.word_parts)))
        report.seconds = time.perf_counter() - t0
        return old, report
    _plan(b)
    _match_rows(b)
    index = _new_index(b)
    origins = (b.reused, b.rows_from[:2]) if b.reused is not None else None
    index.path = write_generation(_target(b), index, Reuse(old, b.kept, b.vocab.kept_parts, origins))
    if b.checkpoint is not None:
        b.checkpoint.remove()
    report.seconds = time.perf_counter() - t0
    log.debug("index: %s", report.summary())  # the CLI prints it, a server logs it
    return index, report


def _target(b: _Build) -> Target:
    return Target(Path(b.config.index_dir), b.config.store_url, b.config.candidates > 0, b.embedder.pause)


def _read_live(b: _Build, rebuild: bool, current: Index | None) -> None:
    """The live index (`b.old`), unless a rebuild is asked for, the vectors are in another store, or it is corrupt
    (`report.rebuilt` says which)."""
    config, report = b.config, b.report
    was_in = live_store(config.index_dir)
    if rebuild:
        report.rebuilt = "requested"
    elif was_in not in (None, config.store):  # not read: its vectors may be on a server this config cannot reach
        report.rebuilt = f"the vectors are in the {was_in} store, config asks for {config.store}"
        log.warning("%s; rebuilding", report.rebuilt)
    else:
        try:
            b.old = current if is_live(config.index_dir, current) else load_index(config.index_dir, config.store_url)
        except IndexCorruptError as exc:
            report.rebuilt = str(exc)
            log.warning("%s; rebuilding it from the corpus", exc)


def _check_fit(b: _Build) -> None:
    """Drop the live index made by another embedder; keep it only as a donor of vectors when chunking changed."""
    if b.old is None:
        return
    was, embedder = b.old.manifest["embedder"], b.embedder
    if was["identity"] != embedder.identity or was["dim"] != embedder.dim:
        b.report.rebuilt = (f"index was built with {was['identity']} (dim {was['dim']}), "
                            f"config asks for {embedder.identity} (dim {embedder.dim})")
        log.warning("%s; rebuilding with the configured embedder", b.report.rebuilt)
        b.old = None
    elif b.old.manifest["chunking"] != chunking(b.config):
        b.report.rebuilt = "chunking parameters changed"
        log.warning("%s; rebuilding (the vectors of sentences and words it had are kept)", b.report.rebuilt)
        b.donor, b.old = b.old, None


def _chunk_changes(b: _Build) -> None:
    """Sort the corpus's articles into unchanged, changed and added (chunking the last two) and removed."""
    report, config = b.report, b.config
    old_articles = b.old.manifest["articles"] if b.old else {}
    new = sum(1 for a in b.corpus.articles if a.fingerprint != old_articles.get(a.source, {}).get("fingerprint"))
    bar = progress_bar(new, b.progress is True, "chunking", "article")
    for article in b.corpus.articles:
        prev = old_articles.get(article.source)
        if prev and prev["fingerprint"] == article.fingerprint:
            report.unchanged.append(article.source)
            b.by_article[article.source] = None  # its old passages: read only if its part is written again
        else:
            (report.changed if prev else report.added).append(article.source)
            b.by_article[article.source] = chunk_article(article, config.chunk_max_chars,
                                                         config.chunk_overlap_sentences)
            if bar:
                bar.update()
    if bar:
        bar.close()
    report.removed = sorted(s for s in old_articles if s not in b.by_article)


def _plan(b: _Build) -> None:
    """Which old parts stay (linked, first, in their order) and the passages of the parts written: the old parts
    none of whose articles changed or left are kept, unread; the other articles go in new parts."""
    old = b.old
    b.old_table = table_of(old) if old is not None else None
    b.kept, b.part_rows, new_parts = plan_parts(
        b.old_table, old.part_rows if old is not None and "files" in old.manifest else [], b.by_article,
        set(b.report.changed) | set(b.report.removed))
    b.passages = PassageTable([b.old_table.segments[i] for i in b.kept] + new_parts)
    b.fresh = [p for part in new_parts for p in part]
    b.report.passages = len(b.passages)


def _match_rows(b: _Build) -> None:
    """For each passage, sentence and word written, the row of the old index (or of the donor, when only chunking
    changed) holding the same text's vector, or -1: only those are embedded."""
    old, report, config = b.old, b.report, b.config
    keep = set(report.unchanged)
    b.reused, reusable, passages_alike = old, set(), True
    if old is not None:  # unchanged articles in parts written again
        reusable = keep - set().union(*(b.old_table.segment_sources(i) for i in b.kept))
    if b.donor is not None:  # a text the donor embedded is the same text: a sentence at the same offsets, a word
        b.reused = b.donor
        reusable = {a.source for a in b.corpus.articles
                    if b.donor.manifest["articles"].get(a.source, {}).get("fingerprint") == a.fingerprint}
        passages_alike = b.donor.manifest["chunking"].get("passage_vectors", "embedded") == config.passage_vectors
    old_p_row, old_s_row = _old_rows(b, reusable, passages_alike)
    old_w_row = {word: j for j, word in enumerate(b.reused.words)} if b.reused else {}
    b.new_rows = sentence_table(b.fresh)[0]
    b.sentences = list(b.new_rows)
    leaving = [p for source in [*report.changed, *report.removed] for p in b.old_table.passages_of(source)] \
        if old is not None else []
    b.vocab = update_vocabulary(old, b.passages, leaving, [p for p in b.fresh if p.source not in keep],
                                config.term_vocabulary)
    b.rows_from = (np.array([old_p_row.get((p.source, p.start, p.end), -1) for p in b.fresh], dtype=np.int64),
                   np.array([old_s_row.get(key, -1) for key in b.sentences], dtype=np.int64),
                   np.array([old_w_row.get(word, -1) for word in b.vocab.words[b.head_w:]], dtype=np.int64))


def _old_rows(b: _Build, reusable: set[str], passages_alike: bool) -> tuple[dict, dict]:
    """The rows of `b.reused` holding the passages and sentences of the `reusable` articles, by (source, start,
    end)."""
    old_p_row: dict[tuple[str, int, int], int] = {}
    old_s_row: dict[tuple[str, int, int], int] = {}
    if b.reused is None:
        return old_p_row, old_s_row
    reused_table = table_of(b.reused)
    for source in reusable:
        if passages_alike:  # an unchanged article moved to a new part was read by plan_parts
            ps = b.by_article[source] if b.reused is b.old else reused_table.passages_of(source)
            old_p_row.update(((p.source, p.start, p.end), i)
                             for i, p in zip(reused_table.article_passages(source), ps))
        old_s_row.update(reused_table.article_sentences(source))
    return old_p_row, old_s_row


def _new_index(b: _Build) -> Index:
    """The new generation in memory: the kept parts' rows where they are, the rows after them in buffers filled
    from the reused index and the embedder, BM25, the manifest and the centroids."""
    buffers = [buffer(len(rows), b.embedder.dim) for rows in b.rows_from]
    _fill_reused(b, buffers)
    _embed_new(b, buffers)
    p_store, s_store, w_store = _stores(b, buffers)
    index = Index(b.passages, p_store, s_store, b.vocab.words, w_store, _manifest(b), Path(), _bm25(b),
                  b.vocab.articles, part_rows=b.part_rows, word_parts=b.vocab.parts, other_words=b.vocab.others)
    old = b.old
    appended = bool(b.kept) and len(b.kept) == len(old.part_rows)  # every old row kept, in order, new ones after
    if appended and not store_class(b.config.store).local and old.centroids is not None:
        index.centroids = grown_centroids(old, index)  # an engine's: the old means and the new rows
    else:  # as the retriever makes them: from the build's rows, and the kept parts' (averaged in their tables)
        index.centroids = centroids_of(index)
    return index


def _fill_reused(b: _Build, buffers: list[VectorStore]) -> None:
    """Copy the reused rows into the buffers, a part's worth at a time (no copy of every old row)."""
    if b.reused is None:
        return
    for store, rows, old_store in zip(buffers, b.rows_from, (b.reused.store, b.reused.sentence_store,
                                                             b.reused.word_store)):
        out = store.vectors(writable=True)
        have = np.flatnonzero(rows >= 0)
        for at in range(0, len(have), PART_SENTENCES):
            block = have[at:at + PART_SENTENCES]
            out[block] = old_store.rows(rows[block])


def _embed_new(b: _Build, buffers: list[VectorStore]) -> None:
    """Embed the texts no reused row holds (through the checkpoint: a stopped build resumes), then pool the
    passage vectors from their sentences' when config passage_vectors says so."""
    report, config = b.report, b.config
    vectors, sentence_vectors, word_vectors = (s.vectors(writable=True) for s in buffers)
    p_todo, s_todo, w_todo = (np.flatnonzero(rows < 0).tolist() for rows in b.rows_from)
    pooled = config.passage_vectors == "sentences"
    p_embed = [] if pooled else p_todo
    report.embedded = len(p_embed) + len(s_todo) + len(w_todo)
    if report.embedded:
        log.info("index: embedding %d texts (%s%d sentences, %d words)", report.embedded,
                 "" if pooled else f"{len(p_embed)} passages, ", len(s_todo), len(w_todo))
        b.checkpoint = checkpoint = Checkpoint(config.index_dir, b.embedder.identity, b.embedder.dim)
        if len(checkpoint):
            log.info("index: %d texts were embedded by a build that did not finish; only the others are embedded",
                     len(checkpoint))
        articles = {a.source: a for a in b.corpus.articles}
        words, head_w = b.vocab.words, b.head_w

        def sentence_text(j: int) -> str:
            source, start, end = b.sentences[j]
            return articles[source].text[start:end]

        with _embedding_progress(b, report.embedded) as step:
            embed_into(vectors, p_embed, lambda i: b.fresh[i].text, checkpoint, b.embedder, step)
            embed_into(sentence_vectors, s_todo, sentence_text, checkpoint, b.embedder, step)
            embed_into(word_vectors, w_todo, lambda j: words[head_w + j], checkpoint, b.embedder, step)
        report.embedded, report.resumed = checkpoint.embedded, checkpoint.reused
    for at in range(0, len(p_todo) if pooled else 0, POOL_BLOCK):
        block = p_todo[at:at + POOL_BLOCK]
        vectors[block] = pooled_passage_vectors([b.fresh[i] for i in block], b.new_rows, sentence_vectors)


class _embedding_progress:
    """A context giving `step(n)`: the terminal bar, or the caller's `progress(done, total)`."""

    def __init__(self, b: _Build, total: int) -> None:
        self.bar = progress_bar(total, b.progress is True, "embedding", "text")
        self.report = b.progress if callable(b.progress) else None
        self.done, self.total = 0, total

    def __enter__(self):
        return self.step

    def step(self, n: int) -> None:
        if self.bar:
            self.bar.update(n)
        if self.report is not None:
            self.done += n
            self.report(self.done, self.total)

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.close()


def _stores(b: _Build, buffers: list[VectorStore]) -> tuple[VectorStore, VectorStore, VectorStore]:
    """The stores of the new index: the kept parts' own (mapped files, or tables) followed by the buffers."""
    p_new, s_new, w_new = buffers
    p_store, s_store = p_new, s_new
    if b.kept:
        p_store = joined(part_stores(b.old.store, b.old.part_rows, b.kept, 0) + [p_new])
        s_store = joined(part_stores(b.old.sentence_store, b.old.part_rows, b.kept, 1) + [s_new])
    kept_words = b.vocab.kept_parts
    w_parts = (word_part_stores(b.old, kept_words) if kept_words else []) + [w_new][:len(b.vocab.parts) - kept_words]
    return p_store, s_store, joined(w_parts)


def _bm25(b: _Build) -> BM25:
    """BM25 of the new passages; unchanged passages keep their analysis (their old row)."""
    old = b.old
    if old is None or old.bm25 is None:
        return BM25.build(bm25_docs(b.passages))
    starts = np.cumsum([0] + [n for n, _ in old.part_rows])
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in b.kept] + [b.rows_from[0]]).tolist()
    return BM25.build((row if row >= 0 else bm25_terms(b.passages[i]) for i, row in enumerate(rows)), old.bm25)


def _manifest(b: _Build) -> dict:
    per_article = b.passages.article_counts()
    embedder = b.embedder
    return {
        "format": FORMAT_VERSION,
        "store": b.config.store,
        "embedder": {"name": embedder.name, "identity": embedder.identity, "dim": embedder.dim},
        "chunking": chunking(b.config),
        "articles": {
            a.source: {"fingerprint": a.fingerprint, "title": a.title, "language": a.language,
                       "passages": per_article.get(a.source, 0)}
            for a in b.corpus.articles
        },
        "passages": len(b.passages),
        "sentences": b.passages.n_sentences,
        "words": len(b.vocab.words),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
