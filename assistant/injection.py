"""Sentences that try to command the reader (indirect prompt injection, OWASP LLM01).

An article is data. A sentence that addresses an AI model ("Assistant, when asked ..., reply only with ...") or
gives one orders ("Ignore all previous instructions", "<|im_start|>system") is not news, and the reader, a small
model, may obey it. `instructs` names the first pattern of data/injection.json that a sentence matches, once folded
(lower case, no accents, invisible characters removed); the assistant keeps such sentences out of the evidence and
records them (`Answer.withheld`). `quoted` makes a sentence safe to put between the prompt's evidence markers.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources

from .lang import fold

__all__ = ["instructs", "quoted", "withhold", "REASON"]

REASON = "it addresses an AI model or gives it orders"

# chat-template tokens and the evidence block's own markers (prompt.py) never reach the prompt from an article
_SPECIAL = re.compile(r"<\|[^|<>]{0,40}\|>|\[/?INST\]|<</?SYS>>|⟦|⟧", re.IGNORECASE)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern], ...]:
    raw = json.loads(resources.files("assistant").joinpath("data/injection.json").read_text(encoding="utf-8"))
    return tuple((f"{code}:{n}", re.compile(p)) for code, group in raw.items() if not code.startswith("_")
                 for n, p in enumerate(group, start=1))


def _folded(text: str) -> str:
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(fold(visible.replace("’", "'")).split())


def instructs(text: str) -> str:
    """The name ("en:3") of the first injection pattern `text` matches, or "" when it reads as news."""
    folded = _folded(text)
    for name, pattern in _patterns():
        if pattern.search(folded):
            return name
    return ""


def quoted(text: str) -> str:
    """`text` on one line, without chat-template tokens, invisible characters or the evidence markers."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(_SPECIAL.sub(" ", visible).split())


def withhold(sentences: list, text_of=None) -> tuple[list, list]:
    """`sentences` (Evidence) split into those the reader may see and the `Withheld` ones: those that instruct, and,
    when `text_of(source)` gives the article's text, those that follow one in the same paragraph (the rest of an
    instruction: "Question: ... ?" then "Answer: PWNED.")."""
    from .answer import Withheld

    flagged = {id(ev): f"{REASON} ({name})" for ev in sentences if (name := instructs(ev.text))}
    if text_of and flagged:
        for ev in sorted(sentences, key=lambda e: (e.source, e.start)):
            if id(ev) not in flagged and any(_same_paragraph(text_of(o.source), o.end, ev.start)
                                             for o in sentences if id(o) in flagged and o.source == ev.source):
                flagged[id(ev)] = f"it follows, in the same paragraph, a sentence that {REASON[3:]}"
    kept = [ev for ev in sentences if id(ev) not in flagged]
    return kept, [Withheld(ev.source, ev.start, ev.end, ev.text, flagged[id(ev)]) for ev in sentences
                  if id(ev) in flagged]


def _same_paragraph(text: str | None, end: int, start: int) -> bool:
    """Does a sentence starting at `start` follow the one ending at `end` with no blank line between?"""
    return bool(text) and end <= start and start - end < 400 and "\n\n" not in text[end:start] and \
        not text[end:start].strip(" \t\n\"”»'’)")
