"""Read the corpus folder into `Article`s: text, title, language, and which lines are article content.

Every `.txt`, `.md`, `.html`/`.htm`, `.pdf` and `.docx` file directly in the corpus folder is an article (extract.py
reads each format); its file name is its id
everywhere (passages, citations, gold files). `manifest.json` in the same folder may declare a `title` and
`language` per file; what it does not declare is derived (first heading-like line, detected language).

Cleaning never rewrites text. It classifies each line as content or page chrome and records the content lines as
spans of `Article.text`, so every later offset still points into the text as read. Chrome is: lone counters
("21", "0"), breadcrumb lines (menu words followed by the headline), photo captions and credits, and dangling
source lines ("Fuente", "Fonte: Andre Lug"). Marker words for these come from every language table at once,
because machine-translated pages mix languages (a Spanish "Fuente" under a Portuguese article).

A file that cannot be decoded, looks binary, or has no content left is reported by name in `Corpus.problems` and
skipped; it never stops the others from loading. A web page is reduced to its article's text (trafilatura), a PDF or
Word file to its text; offsets then refer to that text.

`CleaningCache` remembers what reading found in each file (title, language, content spans) under the sha256 of its
bytes: a file whose bytes did not change is read and hashed, not cleaned again (cleaning and language detection
were most of an update that found nothing to do). It also remembers each file's size, modification and change
times and inode, with its sha256: a file whose stat is the same is not read at all when the corpus loads, and its `Article.text` is read when something first asks for it, checked
against that sha256. Only files last changed `SETTLED_NS` before they were read are remembered so: a change within
the file system's timestamp granularity could keep size and times.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from . import lang
from .chrome import clean
from .extract import FORMATS, VERSIONS, extract
from .errors import CorpusError

__all__ = ["Article", "Corpus", "CorpusProblem", "CleaningCache", "load_corpus", "read_article", "SUFFIXES",
           "MANIFEST"]

log = logging.getLogger(__name__)

SUFFIXES = tuple(FORMATS)
MANIFEST = "manifest.json"
# Bumped when cleaning rules change, so the index re-chunks articles whose bytes did not change.
CLEANING_VERSION = 1

_MAX_TITLE_CHARS = 150
SETTLED_NS = 2 * 10**9  # a file's stat is trusted only when it was last changed this long before it was read


@dataclass(frozen=True)
class Article:
    """One article. `sections` are runs of content paragraphs with no chrome between them; each paragraph is a
    `(start, end)` span of `text`. Passages are cut inside one section, so a passage never contains chrome.
    `body` is the text, or how to read it when first asked for (`text`; a file the corpus did not read again)."""

    source: str
    title: str
    language: str
    body: str | Callable[[], str] = field(repr=False, compare=False)
    sections: tuple[tuple[tuple[int, int], ...], ...]
    fingerprint: str
    dropped: tuple[tuple[int, int, str], ...] = ()  # (start, end, rule) of each chrome line

    @cached_property
    def text(self) -> str:
        """The text as read (CorpusError when the file changed since the corpus was loaded)."""
        return self.body if isinstance(self.body, str) else self.body()

    @property
    def paragraphs(self) -> list[tuple[int, int]]:
        """The content paragraphs, as (start, end) offsets into `text`."""
        return [span for section in self.sections for span in section]

    @property
    def content(self) -> str:
        """The content paragraphs joined by blank lines (for display and language detection)."""
        return "\n\n".join(self.text[s:e] for s, e in self.paragraphs)


@dataclass(frozen=True)
class CorpusProblem:
    """A corpus file that was skipped, and why."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass
class Corpus:
    """The articles read from the corpus folder, in file-name order, and the files skipped."""

    articles: list[Article] = field(default_factory=list)
    problems: list[CorpusProblem] = field(default_factory=list)

    def get(self, source: str) -> Article | None:
        """The article with this file name, or None."""
        return next((a for a in self.articles if a.source == source), None)


# -- reading ------------------------------------------------------------------------------------------------------


def _derive_title(text: str, paragraphs: list[tuple[int, int]]) -> str:
    for s, e in paragraphs[:3]:
        line = text[s:e].strip()
        if len(line) <= _MAX_TITLE_CHARS and not line.endswith((".", "!", "?", ":", ";")):
            return line
    first = text[paragraphs[0][0]:paragraphs[0][1]].strip()
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return sentence if len(sentence) <= _MAX_TITLE_CHARS else sentence[: _MAX_TITLE_CHARS - 1].rstrip() + "…"


def _read(path: Path) -> tuple[bytes, str, str]:
    """The file's bytes, its text as read (extract.py: decoded, or a page's article, a PDF's or Word file's text) and
    the title the file gives itself."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot be read ({exc.strerror or exc})") from None
    found = extract(raw, path.suffix)
    return raw, found.text, found.title


def _kind(path: Path) -> str:
    return FORMATS.get(path.suffix.lower(), "text")


def _cache_key(digest: bytes, declared: dict, kind: str) -> str:
    # text files keep the key (and below, the fingerprint) they had before other formats were read
    version = [kind == "html", CLEANING_VERSION] if kind == "text" else [VERSIONS[kind], CLEANING_VERSION]
    return hashlib.sha256(digest + json.dumps([declared.get("title"), declared.get("language"),
                                               *version]).encode()).hexdigest()


def _reader(path: Path, sha256: str) -> Callable[[], str]:
    """Reads the text of a file the corpus did not read again, when first asked for; the file must still be the one
    whose sha256 was recorded."""
    def read() -> str:
        try:
            raw, text, _ = _read(path)
        except CorpusError as exc:
            raise CorpusError(f"{path.name} {exc}") from None
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise CorpusError(f"{path.name} changed since the corpus was loaded; index the corpus again")
        return text
    return read


def read_article(path: Path, declared: dict | None = None, cache: "CleaningCache | None" = None,
                 stat: os.stat_result | None = None) -> Article:
    """Read one file. Raises CorpusError with the reason when it cannot be used. With a `cache`, a file whose bytes
    (and declared title and language) were read before is not cleaned again, and `stat` (taken before reading) is
    remembered with its sha256."""
    declared = declared or {}
    raw, text, own_title = _read(path)
    if not text.strip():
        raise CorpusError("is empty")
    kind = _kind(path)
    digest = hashlib.sha256(raw)
    sha256 = digest.hexdigest()
    key = _cache_key(digest.digest(), declared, kind)
    known = cache.get(key, len(text)) if cache is not None else None
    if known is not None:
        title, language, sections, dropped = known
    else:
        sections, dropped = clean(text)
        paragraphs = [span for section in sections for span in section]
        if not paragraphs:
            raise CorpusError("has no article text left after removing page chrome")
        content = "\n".join(text[s:e] for s, e in paragraphs)
        language = declared.get("language") or lang.detect_language(content)
        title = declared.get("title") or own_title or _derive_title(text, paragraphs)
        if cache is not None:
            cache.put(key, title, language, sections, dropped)
    digest.update(json.dumps([title, language, CLEANING_VERSION, *([VERSIONS[kind]] if kind != "text" else [])]
                             ).encode())
    fingerprint = digest.hexdigest()[:16]
    if cache is not None and stat is not None:
        cache.stamp(path.name, stat, sha256, key, fingerprint, len(text))
    return Article(path.name, title, language, text, sections, fingerprint, dropped)


class CleaningCache:
    """Title, language, content spans and dropped lines of each file read, by a key of its bytes' sha256, what
    manifest.json declares for it, its kind (HTML or text) and CLEANING_VERSION; and each file's stat, sha256, key,
    fingerprint and text length, by name (`stamp`, `unchanged`). It only saves time: a missing, unreadable or
    malformed file is an empty cache, an entry whose spans do not fit the text is ignored, and a failed write is
    logged. `save` keeps the entries and files used since loading (removed articles drop out)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, list] = {}
        self._used: dict[str, list] = {}
        self._files: dict[str, list] = {}
        self._files_used: dict[str, list] = {}
        self._changed = False
        if path is None:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("cleaning_version") == CLEANING_VERSION \
                    and isinstance(data.get("entries"), dict):
                self._entries = data["entries"]
                self._files = data["files"] if isinstance(data.get("files"), dict) else {}
        except (OSError, ValueError):
            pass

    def get(self, key: str, length: int):
        """(title, language, sections, dropped) stored under `key`, None when absent or not about a text of
        `length` characters."""
        entry = self._entries.get(key)
        try:
            title, language, sections, dropped = entry
            sections = tuple(tuple((int(s), int(e)) for s, e in section) for section in sections)
            dropped = tuple((int(s), int(e), str(rule)) for s, e, rule in dropped)
            if not (isinstance(title, str) and isinstance(language, str) and sections and all(
                    0 <= s < e <= length for section in sections for s, e in section)
                    and all(0 <= s <= e <= length for s, e, _ in dropped)):
                return None
        except (TypeError, ValueError):
            return None
        self._used[key] = entry
        return title, language, sections, dropped

    @staticmethod
    def _stat(st: os.stat_result) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    def stamp(self, name: str, st: os.stat_result, sha256: str, key: str, fingerprint: str, length: int) -> None:
        """Remember that file `name`, with this stat (taken before it was read), has these bytes and this reading;
        not when it was changed less than SETTLED_NS before."""
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLED_NS:
            return
        self._files_used[name] = [*self._stat(st), sha256, key, fingerprint, length]
        self._changed = True

    def unchanged(self, path: Path, st: os.stat_result, declared: dict | None) -> Article | None:
        """The article of a file whose stat, and what manifest.json declares for it, are as when it was stamped,
        without reading it (its text is read when asked for); None otherwise."""
        known = self._files.get(path.name)
        try:
            size, mtime, ctime, inode, sha256, key, fingerprint, length = known
            if [size, mtime, ctime, inode] != self._stat(st) or not isinstance(fingerprint, str) \
                    or key != _cache_key(bytes.fromhex(sha256), declared or {}, _kind(path)):
                return None
            found = self.get(key, int(length))
        except (TypeError, ValueError):
            return None
        if found is None:
            return None
        title, language, sections, dropped = found
        self._files_used[path.name] = known
        return Article(path.name, title, language, _reader(path, sha256), sections, fingerprint, dropped)

    def put(self, key: str, title: str, language: str, sections, dropped) -> None:
        """Remember what cleaning found for the text under `key`."""
        self._used[key] = [title, language, [[list(span) for span in section] for section in sections],
                           [list(d) for d in dropped]]
        self._changed = True

    def save(self) -> None:
        """Write the cache (atomically; a cache that cannot be written costs time only)."""
        if self.path is None or not (self._changed or len(self._used) != len(self._entries)
                                     or len(self._files_used) != len(self._files)):
            return
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"cleaning_version": CLEANING_VERSION, "entries": self._used,
                                       "files": self._files_used}, ensure_ascii=False, separators=(",", ":")),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.info("could not save the cleaning cache %s (%s); the next load cleans every file again", self.path,
                     exc.strerror or exc)
        self._entries, self._files, self._changed = dict(self._used), dict(self._files_used), False


def _read_manifest(folder: Path, problems: list[CorpusProblem]) -> dict[str, dict]:
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError("expected an object of {file name: {title, language}}")
        return data
    except (OSError, ValueError) as exc:
        problems.append(CorpusProblem(MANIFEST, f"ignored: {exc}"))
        return {}


def progress_bar(total: int, enabled: bool, desc: str, unit: str):
    """A progress bar on stderr (tqdm; not drawn where stderr is not a terminal), or None: not enabled, nothing to
    count, or no tqdm."""
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit, leave=False, disable=None)


def load_corpus(folder: Path, max_bytes: int | None = None, cache: Path | None = None,
                progress: bool = False) -> Corpus:
    """All usable articles in `folder`, sorted by file name, plus a problem per file that was skipped (unreadable,
    a link out of the folder, or larger than `max_bytes`). `cache`: a `CleaningCache` file (the index keeps one).
    `progress`: a bar over the files (reading and cleaning 10,000 new articles takes about 15 s)."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}. Put the articles (.txt, .md, .html) there.")
    corpus = Corpus()
    cleaning = CleaningCache(cache) if cache is not None else None
    manifest = _read_manifest(folder, corpus.problems)
    inside = folder.resolve()
    with os.scandir(folder) as listing:  # entries know their type: one stat a file, not three (10,000 files: 0.2 s)
        entries = sorted(listing, key=lambda e: e.name)
    bar = progress_bar(len(entries), progress, "reading", "file")
    try:
        for entry in entries:
            if bar:
                bar.update()
            found = _read_entry(entry, inside, max_bytes, cleaning, manifest)
            if isinstance(found, Article):
                corpus.articles.append(found)
            elif found is not None:
                corpus.problems.append(found)
    finally:
        if bar:
            bar.close()
    if cleaning is not None:
        cleaning.save()
    for problem in corpus.problems:
        log.warning("skipped %s", problem)
    if not corpus.articles:
        raise CorpusError(f"no readable article in {folder} (looked for {', '.join(SUFFIXES)})")
    return corpus


def _read_entry(entry: os.DirEntry, inside: Path, max_bytes: int | None, cleaning: CleaningCache | None,
                manifest: dict) -> Article | CorpusProblem | None:
    """The article in one file of the corpus folder, the problem that skips it, or None for a file that is not an
    article (another suffix, a folder). A link is followed only when it stays inside the folder (`inside`)."""
    path = Path(entry.path)
    if path.suffix.lower() not in SUFFIXES:
        return None
    if entry.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a loop, or a link to nothing
            return CorpusProblem(path.name, "a symbolic link that leads nowhere (or in a loop)")
        if not target.is_relative_to(inside):
            return CorpusProblem(path.name, "a symbolic link out of the corpus folder")
    if not entry.is_file():
        return None
    st = entry.stat()
    if max_bytes is not None and st.st_size > max_bytes:
        limit = f"{max_bytes / 1e6:g} MB"
        return CorpusProblem(path.name,
                             f"{st.st_size / 1e6:.1f} MB, over the {limit} limit per article (max_article_bytes)")
    article = cleaning.unchanged(path, st, manifest.get(path.name)) if cleaning is not None else None
    if article is not None:
        return article
    try:
        return read_article(path, manifest.get(path.name), cleaning, st)
    except CorpusError as exc:
        return CorpusProblem(path.name, str(exc))
