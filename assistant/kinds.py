"""What a question asks for: one fact (today's short answer), or more (an answer of a few sentences).

Kinds: `fact` (who, when, how many...), `why` and `how` (an explanation), `summary` (what happened, what someone
said, what the articles are about), `compare`, `list`, `yesno`, `several` (two questions in one) and `topic` (bare
keywords). Each kind but `fact` is answered by the long prompt (prompt.py), over more evidence sentences
(evidence.spread). The patterns are per-language data (data/kinds.json); this module only applies them.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from . import lang

__all__ = ["KINDS", "LONG_KINDS", "question_kind", "about_the_articles"]

KINDS = ("fact", "why", "how", "summary", "compare", "list", "yesno", "several", "topic")
LONG_KINDS = frozenset(KINDS) - {"fact"}


@lru_cache(maxsize=1)
def _table() -> dict:
    raw = json.loads(resources.files("assistant").joinpath("data/kinds.json").read_text(encoding="utf-8"))
    compiled = {code: {kind: [re.compile(p) for p in patterns] for kind, patterns in entry.items()}
                for code, entry in raw.items() if code in lang.LANGUAGES}
    articles = raw["the_articles"]
    return {"order": raw["order"], "languages": compiled,
            "the_articles": tuple(re.compile(articles[k]) for k in ("names", "cues", "alone"))}


def _folded(question: str) -> str:
    return " ".join(lang.fold(question).replace("’", "'").split())


def question_kind(question: str, language: str) -> str:
    """The kind of `question` (in `language`; the English patterns for a language without a table)."""
    table = _table()
    patterns = table["languages"].get(language) or table["languages"][lang.DEFAULT_LANGUAGE]
    text = _folded(question)
    for kind in table["order"]:
        if any(p.search(text) for p in patterns.get(kind, ())):
            return kind
    if any(p.search(text) for p in patterns["question_words"]):
        return "fact"
    return "yesno" if text.rstrip().endswith("?") else "topic"


def about_the_articles(question: str, language: str) -> bool:
    """Does the question ask about the articles as a whole ("summarize the articles", "do que tratam estes
    artigos?"), with no subject of its own besides them? The words are data (data/kinds.json, "the_articles")."""
    names, cues, alone = _table()["the_articles"]
    text = _folded(question)
    if not names.search(text):
        return bool(alone.fullmatch(text))
    stop = lang.merged("stopwords")
    return not [w for w in lang.tokens(text) if w not in stop and not cues.match(w) and not w.isdigit()]
