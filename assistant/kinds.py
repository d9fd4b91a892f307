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
                for code, entry in raw.items() if not code.startswith("_") and code != "order"}
    return {"order": raw["order"], "languages": compiled}


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


# the articles as the subject: "summarize the articles", "do que tratam estes artigos?"
_ARTICLES = re.compile(r"\b(articles?|artigos?|textos?|noticias?|news|stories|corpus|documents?|documentos?)\b")


def about_the_articles(question: str, language: str) -> bool:
    """Does the question ask about the articles as a whole (no subject of its own besides them)?"""
    text = _folded(question)
    if not _ARTICLES.search(text):
        return bool(re.fullmatch(r"\W*(summari[sz]e|resum[aeo]|resumir|resume[zr]?)\W*", text))
    stop = lang.merged("stopwords")
    cue = re.compile(r"^(summar|resum|overview|panorama|about|sobre|trat|fal|dis|dit|di[sz]|parl|say|said|tell|"
                     r"article|artigo|texto|notici|news|stor|corpus|document|quoi|what|happen|acontec|pass|point|"
                     r"give|make|fai|donne|quick|brief|short|breve|court|these|those|estes|esses|ces|les)")
    rest = [w for w in lang.tokens(text) if w not in stop and not cue.match(w) and not w.isdigit()]
    return not rest
