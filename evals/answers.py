"""Answer-level metrics for `python -m evals answers` (the full harness is a later step).

Definitions (checked in tests/test_metrics.py):
- normalise(text, lang): case and accents folded, punctuation removed, the articles of `lang` (and English)
  dropped, white space collapsed;
- alias hit (STR-EM): some gold alias, normalised, is a substring of the normalised answer (answerable items);
- evidence precision of a citation: the retrieved passage that holds the cited sentence contains the gold
  evidence (white space collapsed);
- refusal: an unanswerable item is correct when refused; an answerable item refused is a false refusal.
"""

from __future__ import annotations

import re
import string

from assistant import lang

from .metrics import _squash

_PUNCT = re.compile(r"[%s“”«»‘’–—…]" % re.escape(string.punctuation))


def normalise(text: str, language: str = "en") -> str:
    articles = set(lang.table(language)["articles"]) | set(lang.table("en")["articles"])
    words = _PUNCT.sub(" ", lang.fold(text)).split()
    return " ".join(w for w in words if w not in {lang.fold(a) for a in articles})


def alias_hit(answer: str, aliases, language: str = "en") -> bool:
    text = f" {normalise(answer, language)} "
    return any(f" {normalise(a, language)} " in text or (normalise(a, language) and normalise(a, language) in text)
               for a in aliases if normalise(a, language))


def citation_has_evidence(citation, passages, evidence: str) -> bool:
    needle = _squash(evidence)
    for p in passages:
        if p.source == citation.source and p.start <= citation.start and citation.end <= p.end:
            return needle in _squash(p.text)
    return False
