"""Page chrome in an article's text: lines that are not the article (breadcrumbs, photo credits, "Source: ...",
counters), found by the per-language words of the data tables and dropped without touching a sentence; the rest
is split into sections of content paragraphs, with offsets into the text as read."""

from __future__ import annotations

import re
from functools import lru_cache

from . import lang

__all__ = ["clean"]

_MAX_CHROME_CHARS = 300  # a caption or credit line longer than this is treated as content
_MARKUP_PREFIX = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|>\s*)")
_COUNTER = re.compile(r"^[\W\d_]*\d[\W\d_]*$")


@lru_cache(maxsize=1)
def _chrome_words() -> dict[str, tuple[str, ...]]:
    """Union over all language tables: menu words, source words (longest first), caption markers."""
    merged: dict[str, set[str]] = {"menu_words": set(), "source_words": set(), "caption_markers": set()}
    for code in lang.LANGUAGES:
        entry = lang.table(code)
        for key in merged:
            merged[key].update(lang.fold(w) for w in entry[key])
    return {
        "menu_words": tuple(merged["menu_words"]),
        "source_words": tuple(sorted(merged["source_words"], key=len, reverse=True)),
        "caption_markers": tuple(merged["caption_markers"]),
    }


@lru_cache(maxsize=1)
def _source_line() -> re.Pattern:
    """A source word, a separator and a short remainder: "fonte: andre lug" (one pattern for all the words)."""
    words = "|".join(re.escape(w) for w in _chrome_words()["source_words"])
    return re.compile(rf"^(?:{words})\s*[:\-–—]\s*[^.!?]{{0,60}}$")


def _chrome_rule(line: str, other_lines: set[str]) -> str | None:
    """Why `line` is page chrome, or None when it is content. `other_lines`: the article's lines, folded."""
    stripped = line.strip()
    folded = lang.fold(stripped)
    words = _chrome_words()
    if _COUNTER.match(stripped) and len(stripped) <= 12:
        return "counter"
    if len(stripped) <= _MAX_CHROME_CHARS and any(marker in folded for marker in words["caption_markers"]):
        return "caption"
    if folded in words["source_words"] or _source_line().match(folded):
        return "source"
    toks = folded.split()
    lead = 0
    while lead < len(toks) and toks[lead] in words["menu_words"]:
        lead += 1
    if lead and (lead == len(toks) or " ".join(toks[lead:]) in other_lines):
        return "breadcrumb"
    return None


def _content_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim whitespace and a leading Markdown marker ("# ", "- ", "> ") off the line `text[start:end]`."""
    line = text[start:end]
    prefix = _MARKUP_PREFIX.match(line)
    lead = prefix.end() if prefix else len(line) - len(line.lstrip())
    return start + lead, start + len(line.rstrip())


def clean(text: str) -> tuple[tuple[tuple[tuple[int, int], ...], ...], tuple[tuple[int, int, str], ...]]:
    """Split `text` into sections of content paragraphs and a list of dropped chrome lines."""
    lines: list[tuple[int, int]] = []
    pos = 0
    for raw_line in text.split("\n"):
        lines.append((pos, pos + len(raw_line)))
        pos += len(raw_line) + 1
    # A breadcrumb's remainder is shorter than the breadcrumb itself, so the line never matches itself here.
    folded_lines = {" ".join(lang.fold(text[s:e]).split()) for s, e in lines}
    sections: list[tuple[tuple[int, int], ...]] = []
    dropped: list[tuple[int, int, str]] = []
    current: list[tuple[int, int]] = []
    for s, e in lines:
        if not text[s:e].strip():
            continue
        rule = _chrome_rule(text[s:e], folded_lines)
        if rule:
            dropped.append((s, e, rule))
            if current:
                sections.append(tuple(current))
                current = []
            continue
        cs, ce = _content_span(text, s, e)
        if ce > cs:
            current.append((cs, ce))
    if current:
        sections.append(tuple(current))
    return tuple(sections), tuple(dropped)
