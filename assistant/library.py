"""The user's articles: add one (a file, an upload or a URL), remove one, list them with their status.

One code path for the four ways in (web upload, URL, CLI, Python): `add` reads the bytes (download.py for a URL),
reads them as the corpus will (extract.py), so a file the assistant cannot read is refused before anything is
written, then writes them into the corpus folder under a name made here (a slug of the title and the first 8 hex of
the bytes' sha256: nothing the user typed reaches the file system) and records what the file says about itself
(title, author, date, site, URL, original name, when it was added) in the corpus's manifest.json. The index picks the
new file up as any other (`Assistant.add` updates it). Writes are atomic (a temporary name, then a rename), and the
manifest is rewritten under a lock, so two adds at once keep both.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from .download import download, is_url
from .errors import CorpusError
from .extract import FORMATS, extract
from .ingest import MANIFEST

__all__ = ["ArticleInfo", "add", "remove", "read_manifest", "STATUSES"]

STATUSES = ("indexed", "waiting", "indexing", "skipped")
_SLUG_CHARS = 48


@dataclass(frozen=True)
class ArticleInfo:
    """One article as the corpus panel and `assistant list` show it. `status`: indexed (answers use it), waiting (a
    new or changed file, not indexed yet), indexing (being embedded; `progress` is the share done), skipped
    (`reason` says why)."""

    id: str
    title: str
    language: str
    date: str
    size: int
    status: str
    reason: str = ""
    url: str = ""
    progress: float | None = None

    def to_dict(self) -> dict:
        """The row as JSON-ready fields (`assistant list --json`)."""
        return asdict(self)


def add(config, path_or_url: str | os.PathLike, *, name: str | None = None) -> tuple[str, bool]:
    """Add a file (a path) or a web page (a URL) to `config.corpus_dir`; `name`: the file's name as the user knows
    it (an upload's). Returns (article id, whether it is new: the same bytes added before keep their first id).
    Raises CorpusError with one line when it cannot be read or fetched; nothing is written then."""
    folder = Path(config.corpus_dir)
    limit = config.max_article_bytes
    text = str(path_or_url)
    meta: dict[str, str] = {}
    if isinstance(path_or_url, str) and is_url(text):
        got = download(text, allow_private=config.allow_private_urls, timeout=config.url_timeout, max_bytes=limit)
        raw, suffix, label = got.raw, got.suffix, got.url
        meta["url"] = got.url
    else:
        path = Path(path_or_url)
        label = name or path.name
        suffix = Path(label).suffix.lower() or path.suffix.lower()
        if suffix not in FORMATS:
            raise CorpusError(f"{_short(label)}: not a format the assistant reads ({', '.join(FORMATS)})")
        try:
            if not path.is_file():
                raise CorpusError(f"{_short(label)}: no such file")
            size = path.stat().st_size
            if size > limit:
                raise CorpusError(f"{_short(label)}: {size / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit per "
                                  f"article (max_article_bytes)")
            raw = path.read_bytes()
        except OSError as exc:
            raise CorpusError(f"{_short(label)}: cannot be read ({exc.strerror or exc})") from None
        meta["file"] = Path(label).name[:200]
    try:
        found = extract(raw, suffix)
    except CorpusError as exc:
        raise CorpusError(f"{_short(label)} {exc}") from None
    if not found.text.strip():
        raise CorpusError(f"{_short(label)} is empty")
    sha256 = hashlib.sha256(raw).hexdigest()
    meta.update({k: v for k, v in (("title", found.title), ("author", found.author), ("date", found.date),
                                   ("site", found.site)) if v})
    meta["added"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["sha256"] = sha256
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(config):
        manifest = dict(read_manifest(folder))  # a copy: the parsed one is cached
        for existing, entry in manifest.items():
            if entry.get("sha256") == sha256 and (folder / existing).is_file():
                return existing, False
        article_id = f"{_slug(found.title or Path(label).stem)}-{sha256[:8]}{suffix}"
        _write_atomic(folder / article_id, raw)
        manifest[article_id] = meta
        _write_manifest(folder, manifest)
    return article_id, True


def remove(config, article_id: str) -> None:
    """Delete an article's file and its manifest entry. `article_id` must name a file of the corpus folder (it is
    compared with the folder's listing, never used as a path)."""
    folder = Path(config.corpus_dir)
    with _locked(config):
        names = {e.name for e in os.scandir(folder) if e.is_file()} if folder.is_dir() else set()
        if article_id not in names or Path(article_id).suffix.lower() not in FORMATS:
            raise CorpusError(f"no article {_short(str(article_id))!r} in the corpus (see `assistant list`)")
        try:
            (folder / article_id).unlink()
        except OSError as exc:
            raise CorpusError(f"cannot remove {article_id}: {exc.strerror or exc}") from None
        manifest = dict(read_manifest(folder))
        if manifest.pop(article_id, None) is not None:
            _write_manifest(folder, manifest)


def read_manifest(folder: Path) -> dict[str, dict]:
    """manifest.json of the corpus folder ({} when absent or unreadable: ingest reports that). Parsed again only
    when the file changed: the web UI asks at every answer and every refresh of the articles panel."""
    path = Path(folder) / MANIFEST
    try:
        st = path.stat()
    except OSError:
        return {}
    return _parsed_manifest(str(path), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=4)
def _parsed_manifest(path: str, size: int, mtime_ns: int, inode: int) -> dict[str, dict]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _write_manifest(folder: Path, manifest: dict) -> None:
    _write_atomic(folder / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise CorpusError(f"cannot write {path.name} into {path.parent}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _locked(config):
    """One change of the corpus folder at a time, across processes (the lock file lives in the index folder, so
    the corpus folder's listing, which says when to re-index, does not change)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    folder = Path(config.index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".corpus.lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:_SLUG_CHARS].strip("-")
    return slug or "article"


def _short(text: str) -> str:
    return text if len(text) <= 100 else text[:99] + "…"
