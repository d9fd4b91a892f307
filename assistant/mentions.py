"""Does the corpus mention what the question names? "Who won the 2022 FIFA World Cup?" asked of articles about Meta
names FIFA, which no article does: whatever sentence comes closest, it cannot answer.

A name of the question (cite.names: a capitalised word after the first, of three letters or more) is mentioned when
the corpus holds it: one of its stems is an indexed term, or an indexed word shares its beginning (cite's rule:
"Irão" for "Iran"), or one of its cross-lingual neighbours (term expansion, retrieve.py) holds its first four
letters ("escala" for "Scale", which a noisy translation wrote for the company; not "empenhadas" for "Lusíadas").
Names are translated between languages ("Norway", "Norvège"), so a question in a language no article is written in
is held to this only for the names every language writes alike: acronyms and names with a digit ("FIFA", "H100").
Measured on the training set (`python -m evals fit names`).
"""

from __future__ import annotations

import re

from . import lang
from .cite import grounded, may_name, names
from .bm25 import analyze

__all__ = ["unmentioned"]

_LETTERS = 3  # shorter capitalised words ("IA", "EU") are too often something else
_INVARIANT = re.compile(r"(?<![\w])(?:[A-Z]{3,}\w*|\w*[A-Za-z]\w*\d\w*)(?![\w])")  # FIFA, H100, iPhone16


def unmentioned(question: str, language: str, retriever) -> list[str]:
    """The names of `question` (in `language`; folded) that no article of the retriever's corpus mentions."""
    found = [n for n in names(question) if len(n) >= _LETTERS]
    if language not in retriever.languages:
        invariant = {lang.fold(m.group(0)) for m in _INVARIANT.finditer(question)}
        found = [n for n in found if n in invariant]
    if not found:
        return []
    terms = retriever.idf
    found = [n for n in found if not all(t in terms for t in analyze(n) or [n])]  # dict lookups first: most names
    if not found:
        return []
    words = set(terms) | {lang.fold(w) for w in retriever.index.words}  # a scan of the vocabulary: only for the rest
    found = [n for n in found if not grounded(n, words)]
    if not found:
        return []
    near = {lang.fold(w): [lang.fold(x) for x in ws] for w, ws in retriever.expansions(question).items()}
    return [n for n in found if not any(may_name(n, w) for w in near.get(n, ()))]
