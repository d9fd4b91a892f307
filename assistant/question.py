"""Validate and normalise a user's question before it reaches retrieval or a model.

Control characters are removed (they can only be paste accidents or attempts to confuse a prompt), runs of white
space collapse to one space, and empty or over-long questions raise `QuestionError` with a message for the user.
`unsupported_language` is the check that turns away a question in a language the assistant does not answer in
(lang.identify says which); the detection itself lives in lang.py. Not here: any rewriting of the question's words.
"""

from __future__ import annotations

import re
import unicodedata

from . import lang
from .errors import QuestionError

__all__ = ["clean_question", "unsupported_language"]

_SPACE = re.compile(r"\s+")


def clean_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"a question must be text, got {type(question).__name__}")
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


def unsupported_language(spoken: str | None) -> str:
    """The refusal reason for a question whose language (`lang.identify`) the assistant does not answer in; ""
    when it does, or when nothing in the question says (it is then answered in the default language)."""
    if spoken is None or spoken in lang.LANGUAGES:
        return ""
    supported = ", ".join(lang.language_name(code) for code in lang.LANGUAGES)
    found = ("mostly in a script none of them uses" if spoken == lang.UNDETERMINED
             else f"in {lang.language_name(spoken)}")
    return f"language: the assistant answers in {supported}; the question is {found}"
