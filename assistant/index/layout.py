"""The on-disk layout of an index: file names, the manifest and its checks, the CURRENT pointer.

    CURRENT                 name of the live generation (replaced atomically: the commit point of a build)
    cleaning.json           what reading found in each corpus file, by its bytes (ingest.CleaningCache)
    .embedded.partial(.json)  what a running build has embedded so far (checkpoint.py): a stopped build resumes
    gen-<time>-<pid>-<n>/
        manifest.json       format, store, embedder identity and dimension, chunking, a fingerprint per article,
                            the parts, and the sha256 of every file below (checked on load)
        passages.jsonl      one passage per line; passages.npz, its columns (table.py)
        vectors.faiss       passage vectors; sentences.faiss, one per distinct sentence (stores/)
        words.json          the embedded vocabulary, its article counts, and the counts of the words without a row
        words.faiss         one vector per word, for cross-lingual term expansion; words.N.faiss, later word parts
        bm25.npz            BM25 postings; centroids.npz, each article language's mean vectors (both optional)
        passages.N.jsonl, passages.N.npz, vectors.N.faiss, sentences.N.faiss   parts 1, 2, ... (parts.py)
        *.pgvector          instead of .faiss with store = "postgres": the table holding the rows
        .verified.json      the files found right, by size, times and inode (not a data file)

Generations never change once written: an update links the files of parts it keeps into the next one.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ..chunk import CHUNKER_VERSION
from ..ingest import CLEANING_VERSION, SETTLED_NS
from ..files import sha256_of
from ..stores import STORES, store_class

if TYPE_CHECKING:
    from .model import Index

FORMAT_VERSION = 3  # 2: words.json and words.faiss; 3: a sha256 of every data file in the manifest
WORDS = "words.json"
PASSAGES = "passages.jsonl"
BM25_FILE = "bm25.npz"  # optional when reading: generations of format 3 written before it existed lack it
CENTROIDS = "centroids.npz"  # optional when reading, as bm25.npz
MAX_PARTS = 16  # parts a generation may have; an update that would make more merges the smallest into a new one


def part_files(i: int, suffix: str = ".faiss") -> tuple[str, str, str]:
    """(passages, passage vectors, sentence vectors) of part i; part 0 has the names a one-part index always had.
    `suffix`: the store's (`.faiss`: the vectors; `.pgvector`: the table holding them)."""
    return (PASSAGES, f"vectors{suffix}", f"sentences{suffix}") if i == 0 else (
        f"passages.{i}.jsonl", f"vectors.{i}{suffix}", f"sentences.{i}{suffix}")


def columns_file(passage_file: str) -> str:
    """The columns of a part's passages (table.py), beside its JSON lines."""
    return passage_file.removesuffix(".jsonl") + ".npz"


def word_files(i: int, suffix: str = ".faiss") -> str:
    """The vectors of word part i; part 0 has the name a one-part vocabulary always had."""
    return f"words{suffix}" if i == 0 else f"words.{i}{suffix}"


def cleaning_cache(index_dir: Path) -> Path:
    """Where the index keeps the corpus's `CleaningCache` (pass it to `load_corpus`)."""
    return Path(index_dir) / "cleaning.json"


def chunking(config) -> dict:
    """What the manifest records of how passages were made: changing any of it rebuilds the index."""
    chunking = {"max_chars": config.chunk_max_chars, "overlap_sentences": config.chunk_overlap_sentences,
                "cleaning_version": CLEANING_VERSION, "chunker_version": CHUNKER_VERSION}
    if config.passage_vectors != "embedded":  # indexes written before the setting embedded them, and say nothing
        chunking["passage_vectors"] = config.passage_vectors
    if config.term_vocabulary:  # changing it rebuilds, reusing every word vector the index has
        chunking["term_vocabulary"] = config.term_vocabulary
    return chunking


def check_manifest(manifest) -> None:
    """Raise ValueError unless `manifest` has every key `update_index` and `load_index` read, of the right type."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"manifest: {what}")

    need(isinstance(manifest, dict), "not an object")
    need(manifest.get("format") == FORMAT_VERSION, f"format {manifest.get('format')!r}, this version reads "
                                                   f"{FORMAT_VERSION}")
    need(manifest.get("store") in STORES, f"unknown store {manifest.get('store')!r}")
    suffix = store_class(manifest["store"]).suffix
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
    required = {*(name for i in range(parts) for name in part_files(i, suffix)), WORDS,
                *(word_files(i, suffix) for i in range(len(word_parts)))}
    files = manifest.get("files")
    optional = {BM25_FILE, CENTROIDS, *(columns_file(part_files(i)[0]) for i in range(parts))}
    need(isinstance(files, dict) and required <= set(files) <= required | optional
         and all(isinstance(v, str) for v in files.values()), "bad 'files'")


VERIFIED = ".verified.json"  # in a generation folder: the files found right, by size, times and inode
# (stamped, as the corpus's files are, only when last changed ingest.SETTLED_NS before they were checked)


def verify_files(gen: Path, files: dict[str, str]) -> tuple[bool, dict]:
    """ValueError unless each file's sha256 is the manifest's. A file whose size, modification and change times and
    inode are those recorded when the whole generation was last found right is not read again (hashing the 722 MB of
    a 10,000-article index took 0.46 s of every first question). Returns whether every file was such a one, and what
    to record (`record_verified`) once the rest of the load has found the generation right. Only files already
    SETTLED_NS old when checked are recorded: a change within the file system's timestamp granularity of the check
    could otherwise keep their times."""
    try:
        stamp = json.loads((gen / VERIFIED).read_text(encoding="utf-8"))
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


def record_verified(gen: Path, found: dict) -> None:
    """Remember the files found right (a read-only index: the next load hashes again)."""
    tmp = gen / f"{VERIFIED}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(found), encoding="utf-8")
        os.replace(tmp, gen / VERIFIED)
    except OSError:  # a read-only index: the next load hashes again, slower, not wrong
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


_POINTER_BYTES = 256  # CURRENT holds one generation name, "gen-<date>-<time>-<pid>-<n>"
_GENERATION = re.compile(r"gen-[0-9A-Za-z_.-]{1,100}")


def pointer(index_dir: Path) -> tuple[str | None, str]:
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


def point_at(index_dir: Path, gen: Path) -> None:
    """Make `gen` the live generation: CURRENT replaced atomically (the commit point of a build)."""
    pointer_tmp = index_dir / "CURRENT.tmp"
    pointer_tmp.write_text(gen.name + "\n", encoding="utf-8")
    os.replace(pointer_tmp, index_dir / "CURRENT")


def is_live(index_dir: Path, index: Index | None) -> bool:
    """Whether `index` was read from, or written as, the generation CURRENT names (generations never change)."""
    if index is None:
        return False
    name, _ = pointer(index_dir)
    return index.path.parent == Path(index_dir) and index.path.name == name


def live_generation(index_dir: Path) -> Path | None:
    """The folder CURRENT names, if it exists."""
    name, _ = pointer(index_dir)
    folder = Path(index_dir) / name if name else None
    return folder if folder is not None and folder.is_dir() else None


def live_store(index_dir: Path) -> str | None:
    """The store the live generation's manifest names; None when there is none, it cannot be read or the store is
    unknown (load_index then says why)."""
    live = live_generation(index_dir)
    try:
        store = json.loads((live / "manifest.json").read_text(encoding="utf-8")).get("store") if live else None
    except (OSError, ValueError, AttributeError):
        return None
    return store if store in STORES else None


def is_row_file(name: str, suffix: str) -> bool:
    """Whether a generation's file holds a part's passage, sentence or word rows (`suffix`: the store's)."""
    return name.endswith(suffix) and name.startswith(("vectors", "sentences", "words"))
