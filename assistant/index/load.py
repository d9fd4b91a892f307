"""Reading the live generation: checked against its manifest, healed when CURRENT names none, and the quick "up to
date" answer that reads only the manifest."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..embed import Embedder
from ..errors import IndexCorruptError
from ..ingest import Corpus
from ..bm25 import BM25
from ..stores import store_class
from ..table import PassageTable, bulk, read_part
from .layout import (BM25_FILE, CENTROIDS, PASSAGES, VERIFIED, WORDS, check_manifest, chunking, columns_file,
                     is_row_file, live_generation, part_files, point_at, pointer, record_verified, verify_files,
                     word_files)
from .model import Index, IndexReport
from .vectors import load_centroids

log = logging.getLogger("assistant.index")


def up_to_date(config, corpus: Corpus, embedder: Embedder) -> IndexReport | None:
    """The report of an update that finds nothing to do, told from the live manifest and the stamps of its files alone,
    without reading passages or vectors (reading them was 1.5 s of a no-change `assistant index` at 10,000 articles);
    None when only reading the index can tell: the corpus or config differs, a data file was not found right since
    it last changed (`_verify_files` would hash it), or the vectors are in an engine (its tables are checked there)."""
    t0 = time.perf_counter()
    live = live_generation(Path(config.index_dir))
    store_cls = store_class(config.store)
    if not store_cls.local or live is None:  # an engine's tables are checked there
        return None
    try:
        manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        check_manifest(manifest)
        stamp = json.loads((live / VERIFIED).read_text(encoding="utf-8"))
        if (manifest["store"] != config.store or manifest["chunking"] != chunking(config)
                or (manifest["embedder"]["identity"], manifest["embedder"]["dim"]) != (embedder.identity, embedder.dim)
                or {s: a["fingerprint"] for s, a in manifest["articles"].items()}
                != {a.source: a.fingerprint for a in corpus.articles}):
            return None
        for name, digest in manifest["files"].items():
            st = (live / name).stat()
            if stamp.get(name) != [digest, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]:
                return None
        if config.candidates > 0 and any(store_cls.file_lacks_search_index(live / name)
                                         for name in manifest["files"] if is_row_file(name, store_cls.suffix)):
            return None  # a part is to be written again with its search index
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return IndexReport(unchanged=[a.source for a in corpus.articles], passages=int(manifest["passages"]),
                       skipped=[str(p) for p in corpus.problems], seconds=time.perf_counter() - t0)


def indexed_fingerprints(config) -> dict[str, str]:
    """{article: fingerprint} of the live generation's manifest, without loading the index ({} when there is none
    or it cannot be read: then nothing counts as indexed)."""
    live = live_generation(Path(config.index_dir))
    try:
        manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        return {s: a["fingerprint"] for s, a in manifest["articles"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def load_index(index_dir: Path, store_url: str | None = None) -> Index | None:
    """The live generation, None when there is none yet; IndexCorruptError when it cannot be read, when its manifest
    lacks what a build needs, when a data file's sha256 is not the one the manifest recorded (an edited passage, bytes
    overwritten in a vector file), or when a vector is not finite. `store_url`: the connection string of an engine
    store (config store_url); StoreError when that server cannot be reached."""
    index_dir = Path(index_dir)
    if not (index_dir / "CURRENT").exists():
        return None
    name, why = pointer(index_dir)
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
            point_at(index_dir, gen)
            return index
        raise IndexCorruptError(f"index at {index_dir} has no generation to load (CURRENT "
                                f"{why or 'names no generation'})")


def _load_index(index_dir: Path, gen: Path, store_url: str | None) -> Index:
    """The generation in `gen`, checked (IndexCorruptError when it is not right)."""
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        check_manifest(manifest)
        known, record = verify_files(gen, manifest["files"])
        index = _read_generation(gen, manifest, store_url)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # RuntimeError: FAISS cannot read it
        raise IndexCorruptError(f"index at {index_dir} is corrupt ({exc})") from None
    _check_consistent(index_dir, index)
    # a generation whose files are all as they were when it was last found right was found finite then
    if not known and not all(s.finite() for s in (index.store, index.sentence_store, index.word_store)):
        raise IndexCorruptError(f"index at {index_dir} is corrupt (a vector is not finite)")
    if record:
        record_verified(gen, record)
    return index


def _read_generation(gen: Path, manifest: dict, store_url: str | None) -> Index:
    """The files of a generation as an `Index` (ValueError and the like when one is not what it should be)."""
    store_cls = store_class(manifest["store"])
    parts = [part_files(i, store_cls.suffix) for i in range(manifest.get("parts", 1))]
    segments = [read_part(gen / lines, gen / columns_file(lines) if columns_file(lines) in manifest["files"]
                          else None) for lines, _, _ in parts]
    passages = PassageTable(segments)
    part_passages = np.cumsum([0] + [len(s) for s in segments[:-1]]).tolist()
    words, word_articles, other_words = _read_words(gen / WORDS)
    store = store_cls.concatenated([store_cls.load(gen / vectors, store_url) for _, vectors, _ in parts])
    sentence_parts = [store_cls.load(gen / sentences, store_url) for _, _, sentences in parts]
    part_rows = [(b - a, len(s)) for a, b, s in zip(part_passages, part_passages[1:] + [len(passages)],
                                                     sentence_parts)]
    word_parts = manifest.get("word_parts", [len(words)])
    word_stores = [store_cls.load(gen / word_files(i, store_cls.suffix), store_url) for i in range(len(word_parts))]
    if [len(w) for w in word_stores] != word_parts:
        raise ValueError(f"the word parts hold {[len(w) for w in word_stores]} rows, the manifest says {word_parts}")
    bm25 = BM25.load(gen / BM25_FILE) if BM25_FILE in manifest["files"] else None
    centroids = load_centroids(gen / CENTROIDS, manifest["embedder"]["dim"]) \
        if CENTROIDS in manifest["files"] else None
    if bm25 is not None and bm25.n != len(passages):
        raise ValueError(f"{BM25_FILE} holds {bm25.n} passages, {PASSAGES} {len(passages)}")
    if not (np.diff(passages.sentence_offsets) > 0).all():
        raise ValueError(f"a passage of {PASSAGES} has no sentence")
    return Index(passages, store, store_cls.concatenated(sentence_parts), words,
                 store_cls.concatenated(word_stores), manifest, gen, bm25, word_articles, centroids,
                 part_rows=part_rows, word_parts=word_parts, other_words=other_words)


def _read_words(path: Path) -> tuple[list[str], list[int] | None, dict[str, int] | None]:
    """words.json: the words, how many articles use each, the counts of the words without a row (a plain list of
    words in generations written before the counts)."""
    words = json.loads(path.read_text(encoding="utf-8"))
    word_articles = other_words = None
    if isinstance(words, dict):
        words, word_articles, other_words = words.get("words"), words.get("articles"), words.get("others", {})
        if not (isinstance(word_articles, list) and len(word_articles) == len(words or ())
                and all(isinstance(n, int) and n >= 0 for n in word_articles)):
            raise ValueError(f"{WORDS}: bad 'articles'")
        if not (isinstance(other_words, dict) and all(isinstance(n, int) and n > 0 for n in other_words.values())):
            raise ValueError(f"{WORDS}: bad 'others'")
    if not isinstance(words, list):
        raise ValueError(f"{WORDS} is not a list")
    return words, word_articles, other_words


def _check_consistent(index_dir: Path, index: Index) -> None:
    """IndexCorruptError unless the stores hold a row of the manifest's dimension for each passage, sentence and
    word, and each part's sentence rows are its own passages'."""
    dim = index.manifest["embedder"]["dim"]
    n_sentences = len(index.sentence_row)
    store, sentence_store, word_store = index.store, index.sentence_store, index.word_store
    if ((len(store), len(sentence_store), len(word_store)) != (len(index.passages), n_sentences, len(index.words))
            or {store.dim, sentence_store.dim, word_store.dim} != {dim}):
        raise IndexCorruptError(
            f"index at {index_dir} is inconsistent: {len(store)} + {len(sentence_store)} + {len(word_store)} vectors "
            f"of dim {store.dim} for {len(index.passages)} passages, {n_sentences} sentences and "
            f"{len(index.words)} words")
    if not _parts_hold_their_sentences(index):
        raise IndexCorruptError(f"index at {index_dir} is inconsistent: a part's sentence vectors are not those of "
                                f"its passages")


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


def load_stores(index: Index, folder: Path, store_url: str | None) -> None:
    """Give `index` the stores of the part files in `folder` (mapped files, or an engine's tables)."""
    store_cls = store_class(index.manifest["store"])
    index.store, index.sentence_store = (
        store_cls.concatenated([store_cls.load(folder / part_files(i, store_cls.suffix)[column], store_url)
                                for i in range(len(index.part_rows))]) for column in (1, 2))
    index.word_store = store_cls.concatenated([store_cls.load(folder / word_files(i, store_cls.suffix), store_url)
                                               for i in range(len(index.word_parts))])
