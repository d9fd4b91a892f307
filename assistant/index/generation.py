"""Writing a generation: files first, in a temporary folder, then CURRENT pointed at it (the commit point), then the
generations it replaces removed; and the lock that makes builds of one index wait for each other.

A build writes a new generation folder completely and only then points CURRENT at it, so an interrupted build leaves
the previous index usable; stale folders are removed by the next successful build. Readers never lock: they only
follow CURRENT. An engine's tables outlive the generation just replaced by one build (a server process may still be
answering from them).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AssistantError, IndexWriteError
from ..files import sha256_of
from ..stores import STORES, SearchGraph, VectorStore, store_class
from ..table import passage_record, write_columns
from .layout import BM25_FILE, CENTROIDS, WORDS, columns_file, live_generation, part_files, point_at, word_files
from .load import load_stores
from .model import Index
from .parts import graph_donor, part_stores, word_part_stores, worn_out
from .vectors import save_centroids

log = logging.getLogger("assistant.index")


@dataclass
class Target:
    """Where a generation is written: the index folder, the engine's connection string (a store that keeps rows
    elsewhere), and whether new parts large enough (`VectorStore.graphed`) get a search graph (`ann`, config
    `candidates`), built between calls of `pause` (the embedder's: a background update waits there while a question
    is answered)."""

    index_dir: Path
    store_url: str | None = None
    ann: bool = False
    pause: Callable[[], None] | None = None


@dataclass
class Reuse:
    """What a new generation takes from the live index `old`: its `parts` (linked, in this order, as the new one's
    first parts), its first `word_parts` word parts, and `origins`: (an index, and for each passage and sentence row
    written, the row of that index it came from, or -1), so that a new part keeps the graph of the part most of its
    rows come from."""

    old: Index | None = None
    parts: list[int] = field(default_factory=list)
    word_parts: int = 0
    origins: tuple | None = None


def write_generation(target: Target, index: Index, reuse: Reuse | None = None) -> Path:
    """Write `index` as a new generation and make it the live one; returns its folder. The vectors go where the
    manifest's store keeps them, and `index` then queries them there. IndexWriteError when it cannot be written (the
    previous generation stays live, and the half-written one is removed)."""
    if reuse is None:
        reuse = Reuse()
    elif not (reuse.parts or reuse.word_parts):  # nothing linked: the old index is only a graph donor
        reuse = Reuse(origins=reuse.origins)
    index_dir = target.index_dir
    try:
        return _Writing(target, index, reuse).run()
    except (OSError, RuntimeError) as exc:  # FAISS reports a failed write as a RuntimeError
        # each retry used to leave one more half-written generation, keeping a full disk full
        live = live_generation(index_dir)
        for tmp in index_dir.glob("gen-*.tmp"):
            discard(tmp, target.store_url, keep=references(live) if live else set())
        full = getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)
        reason = "no space left on device" if full else (getattr(exc, "strerror", None) or str(exc).splitlines()[0])
        raise IndexWriteError(f"cannot write the index in {index_dir}: {reason}; the previous index is kept") from None


def references(folder: Path) -> set[str]:
    """What the store files of a generation name outside it (an engine's tables)."""
    return {r for cls in STORES.values() for f in folder.glob(f"*{cls.suffix}") for r in [cls.reference(f)] if r}


def discard(folder: Path, store_url: str | None, keep: set[str] = frozenset()) -> None:
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


@contextmanager
def build_lock(index_dir: Path):
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


class _Writing:
    """One generation being written into its temporary folder: the kept parts linked, the new ones written, the
    words, then the commit."""

    def __init__(self, target: Target, index: Index, reuse: Reuse) -> None:
        self.target, self.index, self.reuse = target, index, reuse
        self.store_cls = store_class(index.manifest["store"])
        self.suffix = self.store_cls.suffix
        self.files: dict[str, str] = {}  # linked files and their sha256
        self.written: list[str] = []  # files written here (hashed at the end)
        self.wear: dict[str, int] = {}  # vector file -> rows its graph lost since it was built whole (GRAPH_WEAR)
        self.later: list[tuple[str, tuple | None]] = []  # (file, donor): graphs built once the build's rows are freed

    def run(self) -> Path:
        index_dir = self.target.index_dir
        index_dir.mkdir(parents=True, exist_ok=True)
        self.live = live_generation(index_dir)
        for stale in index_dir.glob("gen-*.tmp"):  # left by a build that was killed; builds hold the lock
            discard(stale, self.target.store_url, keep=references(self.live) if self.live else set())
        gen = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        self.tmp = gen.with_name(gen.name + ".tmp")
        self.tmp.mkdir()
        self.link_kept_parts()
        self.write_new_parts()
        self.write_words()
        self.write_the_rest()
        return self.commit(gen)

    def link_kept_parts(self) -> None:
        """The old parts kept, linked under their new numbers (a part written before `candidates` was set is
        written again with its graph; one written before passage columns existed gets them)."""
        old, tmp, suffix = self.reuse.old, self.tmp, self.suffix
        old_starts = np.cumsum([0] + [n for n, _ in old.part_rows]).tolist() if old is not None else []
        for part, was in enumerate(self.reuse.parts):
            for source, name in zip((*part_files(was, suffix), columns_file(part_files(was)[0])),
                                    (*part_files(part, suffix), columns_file(part_files(part)[0]))):
                if source not in old.manifest["files"]:  # a part written before passage columns existed
                    write_columns(tmp / name, tmp / part_files(part)[0], old.passages[old_starts[was]:old_starts[was + 1]])
                    self.written.append(name)
                    continue
                names = part_files(was, suffix)
                column = names.index(source) - 1 if source in names else -1  # 0: passage rows, 1: sentence rows
                if self.target.ann and column >= 0:
                    (rows,) = part_stores((old.store, old.sentence_store)[column], old.part_rows, [was], column)
                    if rows.lacks_search_index():  # written before `candidates` was set: the same rows with a graph
                        self.store_cls.persist(rows, tmp / name, self.target.store_url,
                                               graph=SearchGraph(self.target.pause))
                        self.written.append(name)
                        continue
                self.link(source, tmp / name)
                if source in old.manifest.get("graph_wear", {}):
                    self.wear[name] = old.manifest["graph_wear"][source]

    def link(self, source: str, target: Path) -> None:
        """Put a file of the old generation in this one (generations never change a file: sharing is safe)."""
        old = self.reuse.old
        try:
            os.link(old.path / source, target)
        except OSError:  # a file system without hard links
            shutil.copyfile(old.path / source, target)
        self.files[target.name] = old.manifest["files"][source]

    def put(self, built: VectorStore, name: str, rows: tuple[int, int], donor=None) -> None:
        """Write rows of a build's store as the part file `name`. A graph built in this process (FAISS) copies the
        part's rows: built beside the build's own rows it was the build's peak, so it waits in `later` until they
        are freed."""
        first, last = rows
        if self.target.ann and self.store_cls.graphs_here and self.store_cls.graphed(last - first):
            self.store_cls.persist(built, self.tmp / name, self.target.store_url, rows)
            self.later.append((name, donor))
        else:
            graph = SearchGraph(self.target.pause, donor) if self.target.ann else None
            self.store_cls.persist(built, self.tmp / name, self.target.store_url, rows, graph)

    def write_new_parts(self) -> None:
        """The parts after the kept ones: their vectors, passages and columns."""
        index, tmp = self.index, self.tmp
        first_passage, first_sentence = (sum(rows) for rows in zip((0, 0), *index.part_rows[:len(self.reuse.parts)]))
        self.head = (first_passage, first_sentence)
        for part in range(len(self.reuse.parts), len(index.part_rows)):
            passage_file, vectors_file, sentences_file = part_files(part, self.suffix)
            n_passages, n_sentences = index.part_rows[part]
            donors = self.donors(part, (first_passage, first_sentence))
            self.put(index.store, vectors_file, (first_passage, first_passage + n_passages), donors[0])
            self.put(index.sentence_store, sentences_file, (first_sentence, first_sentence + n_sentences), donors[1])
            part_passages = index.passages[first_passage:first_passage + n_passages]
            with open(tmp / passage_file, "w", encoding="utf-8") as fh:
                for p in part_passages:
                    fh.write(json.dumps(passage_record(p), ensure_ascii=False) + "\n")
            # the part's slice of the sentence table: its rows follow the parts' before it
            lo, hi = index.sentence_offsets[first_passage], index.sentence_offsets[first_passage + n_passages]
            write_columns(tmp / columns_file(passage_file), tmp / passage_file, part_passages,
                          index.sentence_rows[lo:hi] - first_sentence, index.sentence_offsets[
                              first_passage:first_passage + n_passages + 1] - lo)
            self.written += [passage_file, columns_file(passage_file), vectors_file, sentences_file]
            first_passage, first_sentence = first_passage + n_passages, first_sentence + n_sentences

    def donors(self, part: int, firsts: tuple[int, int]) -> list:
        """For the passage and sentence rows of a new part, the (store, rows) whose graph it keeps, or None: the
        part of the origins' index most of its rows come from, while that graph is not worn out."""
        donors = [None, None]
        if not self.target.ann or self.reuse.origins is None:
            return donors
        donor_index, came_from = self.reuse.origins
        for column, (first, n) in enumerate(zip(firsts, self.index.part_rows[part])):
            start = first - self.head[column]
            found = graph_donor((donor_index.store, donor_index.sentence_store)[column], donor_index.part_rows,
                                column, came_from[column][start:start + n])
            if found is None or not found[0].keeps_graph() or not self.store_cls.graphed(n):
                continue
            donor, rows, k = found
            worn = donor_index.manifest.get("graph_wear", {}).get(part_files(k, self.suffix)[column + 1], 0)
            worn += len(donor) - int((rows >= 0).sum())  # its nodes that leave, and the links to them
            if not worn_out(worn, n):
                donors[column] = (donor, rows)
                self.wear[part_files(part, self.suffix)[column + 1]] = worn
        return donors

    def write_words(self) -> None:
        """The word parts: the kept ones linked, the others written (an old part that lacks the graph `candidates`
        asks for is written again with it)."""
        index, kept = self.index, self.reuse.word_parts
        word_starts = np.cumsum([0] + index.word_parts).tolist()
        old_words = word_part_stores(self.reuse.old, kept) if kept else []
        for i, n in enumerate(index.word_parts):
            name = word_files(i, self.suffix)
            if i < kept and not (self.target.ann and old_words[i].lacks_search_index()):
                self.link(name, self.tmp / name)
            else:
                self.put(index.word_store, name, (word_starts[i], word_starts[i + 1]))
                self.written.append(name)

    def write_the_rest(self) -> None:
        """The stores read back from what was written (the build's buffers are freed), the graphs that waited for
        that, then centroids, words, BM25 and the manifest."""
        index, tmp, url = self.index, self.tmp, self.target.store_url
        load_stores(index, tmp, url)
        for name, donor in self.later:
            self.store_cls.persist(self.store_cls.load(tmp / name, url), tmp / name, url,
                                   graph=SearchGraph(self.target.pause, donor))
        if self.later:
            load_stores(index, tmp, url)
        save_centroids(tmp / CENTROIDS, index.centroids)
        (tmp / WORDS).write_text(json.dumps({"words": index.words, "articles": index.word_articles,
                                             "others": index.other_words or {}}, ensure_ascii=False), encoding="utf-8")
        index.bm25.save(tmp / BM25_FILE)
        self.written += [WORDS, BM25_FILE, CENTROIDS]
        manifest = {**index.manifest, "parts": len(index.part_rows), "word_parts": index.word_parts,
                    "graph_wear": self.wear, "files": {**self.files, **{n: sha256_of(tmp / n) for n in self.written}}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        index.manifest = manifest

    def commit(self, gen: Path) -> Path:
        """Sync the written files, rename the folder, point CURRENT at it, remove what it replaces."""
        for f in self.tmp.iterdir():
            if f.name in self.files:  # linked: already on disk
                continue
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        self.tmp.rename(gen)
        index_dir, live = self.target.index_dir, self.live
        point_at(index_dir, gen)  # the commit point
        # an engine's tables outlive the generation just replaced by one build: a server may still answer from them
        stay = [gen] + ([live] if live is not None and references(live) else [])
        keep = set().union(*map(references, stay))
        for folder in index_dir.glob("gen-*"):
            if folder not in stay:
                discard(folder, self.target.store_url, keep)
        return gen
