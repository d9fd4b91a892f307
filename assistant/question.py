"""Validate and normalise a user's question before it reaches retrieval or a model.

Control and invisible characters are removed (zero-width spaces and joiners, bidirectional marks: paste accidents or
attempts to confuse a prompt), so are HTML tags and comments ("<b>Scale AI</b>" pasted from a page; character
references are read: "&amp;" is "&"), runs of white space collapse to one space, and empty or over-long questions raise `QuestionError` with a message for the user.
Not here: language detection (lang.py) and the check that turns away a question in a language the assistant does
not answer in (checks.LanguageCheck), or any rewriting of the question's words.
"""

from __future__ import annotations

import html
import re
import unicodedata

from .errors import QuestionError

__all__ = ["clean_question"]

_SPACE = re.compile(r"\s+")
_MARKUP = re.compile(r"<!--.*?(-->|$)|</?[A-Za-z][\w:-]*(\s[^<>]*)?/?>", re.DOTALL)  # tags and comments, not "a < b"


def clean_question(question: object, max_chars: int) -> str:
    """The question without markup, character references and invisible characters, whitespace folded;
    QuestionError when it is not text, empty, or longer than `max_chars`."""
    if not isinstance(question, str):
        raise QuestionError(f"a question must be text, got {type(question).__name__}")
    question = html.unescape(_MARKUP.sub(" ", question)) if "<" in question or "&" in question else question
    kept = "".join(" " if ch in "\t\n\r" else ch for ch in question
                   if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    text = _SPACE.sub(" ", kept).strip()
    if not text:
        raise QuestionError("the question is empty: type a question about the articles")
    if len(text) > max_chars:
        raise QuestionError(
            f"the question is {len(text)} characters long; the limit is {max_chars}. Ask something shorter."
        )
    return text

