"""The text of a file, whatever its format: plain text and Markdown as written, web pages through trafilatura, PDF
through pypdf, Word through python-docx.

`extract(raw, suffix)` returns an `Extracted`: the text every later offset points into, and what the file says about
itself (title, author, date, site name). A PDF's pages are joined with a form feed on a line of its own, so the page
of any offset is `page_of(text, offset)`. Anything that cannot be read raises `CorpusError` with one line saying why
(the caller adds the file's name); nothing here touches the file system.

Web pages: trafilatura keeps the article and drops navigation, cookie banners, related links, adverts and comments.
On three news pages written as test fixtures (tests/fixtures/pages: navigation, consent banner, related links,
comments), it kept all 14 body sentences with 63 words of other text (23 once elements whose class names chrome in
Portuguese or French are pruned), where the standard-library parser this project used before kept 13 with 240
(`python -m benchmarks.html_extraction`).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache

from . import lang
from .errors import CorpusError

__all__ = ["Extracted", "extract", "decode", "page_of", "FORMATS", "PAGE_BREAK"]

log = logging.getLogger(__name__)

# suffix -> the format's name; every suffix a corpus file may have
FORMATS = {".txt": "text", ".md": "text", ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
# The version of each format's reading: part of an article's fingerprint (a change re-indexes those articles only).
VERSIONS = {"text": "", "html": "trafilatura-1", "pdf": "pypdf-1", "docx": "docx-1"}
PAGE_BREAK = "\f"  # between two pages of a PDF, on a line of its own
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # below 32, other than \t \n \f \r


@dataclass(frozen=True)
class Extracted:
    """A file's text as read, with the metadata its format holds (title, author, date, site)."""

    text: str
    title: str = ""
    author: str = ""
    date: str = ""  # YYYY-MM-DD when the file says
    site: str = ""


def decode(raw: bytes) -> str | None:
    """UTF-8 (with or without BOM), else Windows-1252 for legacy files; None for what looks binary."""
    if b"\x00" in raw:
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            return None
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def extract(raw: bytes, suffix: str) -> Extracted:
    """The text and metadata of a file's bytes; `suffix` (".pdf") says its format."""
    kind = FORMATS.get(suffix.lower())
    if kind is None:
        raise CorpusError(f"is not a format the assistant reads ({', '.join(FORMATS)})")
    return {"text": _text, "html": _html, "pdf": _pdf, "docx": _docx}[kind](raw)


def page_of(text: str, offset: int) -> int:
    """The page (from 1) of `offset` in the text of a PDF."""
    return text.count(PAGE_BREAK, 0, max(0, offset)) + 1


def _text(raw: bytes) -> Extracted:
    text = decode(raw)
    if text is None:
        raise CorpusError("is not readable text (binary or unknown encoding)")
    return Extracted(text)


def _html(raw: bytes) -> Extracted:
    try:
        import trafilatura
    except ImportError:
        raise CorpusError("reading web pages needs trafilatura: pip install trafilatura lxml_html_clean") from None
    html = decode(raw)
    if html is None:
        raise CorpusError("is not readable text (binary or unknown encoding)")
    try:
        doc = trafilatura.bare_extraction(html, config=_trafilatura_config(), prune_xpath=_chrome_xpath(),
                                          with_metadata=True, include_comments=False, include_tables=True,
                                          include_images=False, deduplicate=False)
    except Exception as exc:  # noqa: BLE001 - lxml and trafilatura raise many kinds on broken markup; all mean unread
        raise CorpusError(f"could not be read as a web page ({type(exc).__name__})") from None
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not text:
        raise CorpusError("has no article text (the page holds no paragraphs trafilatura recognises as an article)")
    return Extracted(text.replace("\r\n", "\n") + "\n", *(_meta(doc, key) for key in
                                                           ("title", "author", "date", "sitename")))


def _trafilatura_config():
    """trafilatura's settings, but a short page's article is kept: below 250 characters trafilatura would otherwise
    fall back to all the page's text, navigation and captions included."""
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    return config


@lru_cache(maxsize=1)
def _chrome_xpath() -> str:
    """Elements whose class or id names page chrome in one of the table languages (`page_chrome_classes`:
    "comentario", "lgpd", "lire-aussi"): trafilatura knows English class names; a Brazilian page's comments kept
    theirs."""
    upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
    tests = [f"contains(translate(@{attr},'{upper}','{lower}'),'{word}')" for word in sorted(lang.merged(
        "page_chrome_classes")) for attr in ("class", "id")]
    return f"//*[{' or '.join(tests)}]"


def _meta(doc, key: str) -> str:
    value = getattr(doc, key, None)
    return " ".join(str(value).split())[:300] if value else ""


def _pdf(raw: bytes) -> Extracted:
    try:
        from pypdf import PdfReader
    except ImportError:
        raise CorpusError("reading PDF needs pypdf: pip install pypdf") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every odd object of a real-world file
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise CorpusError("is a PDF protected by a password")
        pages = [_page_text(page) for page in reader.pages]
        info = reader.metadata or {}
        title, author = info.get("/Title") or "", info.get("/Author") or ""
    except CorpusError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on a broken file; all mean unread
        raise CorpusError(f"could not be read as a PDF ({type(exc).__name__})") from None
    if not any(p.strip() for p in pages):
        raise CorpusError("is a PDF without a text layer (a scan?): the assistant reads text, not images")
    text = f"\n{PAGE_BREAK}\n".join(pages) + "\n"
    return Extracted(text, " ".join(str(title).split())[:300], " ".join(str(author).split())[:300])


def _page_text(page) -> str:
    """One page's text, its lines joined back into paragraphs where a line was only wrapped."""
    text = (page.extract_text() or "").replace("\r\n", "\n").replace(PAGE_BREAK, "\n")
    text = _CONTROL.sub("", text)
    lines = [line.strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line:
            if out and out[-1]:
                out.append("")
        elif out and out[-1] and not out[-1].endswith((".", "!", "?", ":", "»", "”", '"')) and line[:1].islower():
            out[-1] += " " + line  # a sentence wrapped at the page's width
        else:
            out.append(line)
    return "\n".join(out).strip()


def _docx(raw: bytes) -> Extracted:
    try:
        import docx
    except ImportError:
        raise CorpusError("reading Word documents needs python-docx: pip install python-docx") from None
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise CorpusError("is not a Word document (.docx files are zip archives)")
    try:
        document = docx.Document(io.BytesIO(raw))
        paragraphs = [" ".join(p.text.split()) for p in document.paragraphs]
        for table in document.tables:
            paragraphs += [" | ".join(" ".join(c.text.split()) for c in row.cells) for row in table.rows]
        props = document.core_properties
        title, author = props.title or "", props.author or ""  # not its dates: a file's, not the article's
    except Exception as exc:  # noqa: BLE001 - a zip that is not a Word document raises KeyError, ValueError, ...
        raise CorpusError(f"is not a Word document ({type(exc).__name__})") from None
    text = "\n".join(p for p in paragraphs if p)
    if not text.strip():
        raise CorpusError("is a Word document without text")
    return Extracted(text + "\n", title, author)
