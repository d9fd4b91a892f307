"""Split articles into sentences and pack sentences into passages, keeping character offsets.

Sentence splitting is rule-based and language-aware: a sentence ends at `.`, `!`, `?` or `…` (plus closing quotes)
followed by white space, unless the word before the period is an abbreviation of the article's language (from
`data/languages.json`) or a single capital initial, and unless an ellipsis runs on into a lower-case word. Numbers
never split: "3.1", "2,71%", "14 000" and "US$ 10 bilhões" contain no period followed by white space. Every line
of an article is its own paragraph, so a line break ends a sentence, except after a colon: a paragraph that ends in
one ("ele disse:") is joined with the first sentence of the next, which it introduces. A piece with no letter or digit
(the "»." that closes a French quotation after its period, a lone "…") is not a sentence: it joins the one before.

A passage is a run of whole sentences from one section of an article (see `ingest.Article.sections`), at most
`max_chars` long unless one sentence alone is longer; it prefers to end at a paragraph break once it is half full,
and always ends before a heading (a short paragraph with no closing punctuation), so a heading opens the passage
that it introduces; consecutive headings share one (a file of one word per line made a passage of every line).
Invariant, checked by the tests: `article.text[p.start:p.end] == p.text` for every passage `p`, and the same for
each sentence span in `p.sentences`.

Not here: tokens, embeddings or any model-specific length limit (the embedders window long inputs themselves).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from . import lang
from .ingest import Article

__all__ = ["Span", "Passage", "split_sentences", "chunk_article", "CHUNKER_VERSION"]

# Bumped whenever the splitting or packing rules change, so existing indexes are re-chunked.
CHUNKER_VERSION = 5

# the mark, then closing quotes or brackets, also after a space (French: "... Buti. »")
_BOUNDARY = re.compile(r"[.!?…]+(?:[\"'»”’)\]]|[ \u00a0\u202f][»”])*(?=\s)")
_WORD_BEFORE = re.compile(r"([^\W\d_][\w.'’-]*|\d+)$")
_WORD_WINDOW = 64  # longer than any abbreviation or initial the word before a period is checked for
_NEXT = re.compile(r"\s*(\S)")
_HEADING_MAX_CHARS = 100
_SAYS_SOMETHING = re.compile(r"[^\W_]")  # a letter or a digit


@dataclass(frozen=True)
class Span:
    """A piece of one article: `text` is `article.text[start:end]` of the article named `source`, whose title and
    language it carries. Passages, evidence sentences and citations are spans."""

    source: str
    title: str
    language: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Passage(Span):
    """A run of whole sentences. `score` is set by retrieval (higher is better); `sentences` are the `(start, end)`
    article offsets of the sentences the passage is made of."""

    score: float = 0.0
    sentences: tuple[tuple[int, int], ...] = field(default=(), repr=False, compare=False)

    @property
    def id(self) -> str:
        """The passage's id: its source and character span."""
        return f"{self.source}:{self.start}-{self.end}"

    def to_dict(self) -> dict:
        """The passage as JSON-ready fields."""
        return {
            "source": self.source,
            "title": self.title,
            "language": self.language,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
        }


@lru_cache(maxsize=None)
def _abbreviations(language: str) -> frozenset[str]:
    words = set(lang.table(language)["abbreviations"]) | set(lang.table(lang.DEFAULT_LANGUAGE)["abbreviations"])
    return frozenset(lang.fold(w) for w in words)


def is_boundary(text: str, lo: int, punct_start: int, after: int, end: int, language: str) -> bool:
    """Does the punctuation at text[punct_start:after] end a sentence of the paragraph text[lo:end]? It reads only
    the next character and the word before (at most `_WORD_WINDOW` characters back), never the rest of the text:
    copying it at every mark made chunking quadratic in the article's length."""
    punct = text[punct_start:after]
    m = _NEXT.match(text, after, end)
    if not m:
        return True
    nxt = m.group(1)
    if punct[0] == ".":
        m = _WORD_BEFORE.search(text, max(lo, punct_start - _WORD_WINDOW), punct_start)
        word = m.group(1) if m else ""
        if word and lang.fold(word).rstrip(".") in _abbreviations(language):
            return False
        if len(word) == 1 and word.isupper():  # an initial: "J. R. R. Tolkien"
            return False
    elif punct[0] == "…" and nxt.islower():  # "…eventualmente": a pause, not an end
        return False
    return True


def split_sentences(text: str, start: int, end: int, language: str) -> list[tuple[int, int]]:
    """Sentence spans of `text[start:end]` (one paragraph), as absolute offsets, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    sent_start = start
    for m in _BOUNDARY.finditer(text, start, end):
        if is_boundary(text, sent_start, m.start(), m.end(), end, language):
            spans.append((sent_start, m.end()))
            sent_start = m.end()
    spans.append((sent_start, end))
    trimmed: list[tuple[int, int]] = []
    for s, e in spans:
        piece = text[s:e]
        s2 = s + len(piece) - len(piece.lstrip())
        e2 = s + len(piece.rstrip())
        if e2 <= s2:
            continue
        if trimmed and not _SAYS_SOMETHING.search(text, s2, e2):  # "»." after "... Buti.": the end of the one before
            trimmed[-1] = (trimmed[-1][0], e2)
        else:
            trimmed.append((s2, e2))
    return trimmed


def is_heading(text: str) -> bool:
    """Whether a sentence is a heading (no sentence end, short): never evidence."""
    text = text.strip()
    return 0 < len(text) <= _HEADING_MAX_CHARS and text[-1] not in ".!?:;…\"”»)"


def _join_lead_ins(text: str, items: list) -> list:
    """Join a paragraph that ends in a colon ("Em um podcast no verão passado, ele disse:") with the first sentence
    of the next one: the lead-in says when and who, the next line says what, and apart neither answers."""
    out: list = []
    for item in items:
        if out and text[out[-1][0][1] - 1] == ":" and not item[2]:  # no copy of the span: it may be long
            (s, _), opens, heading = out[-1]
            out[-1] = ((s, item[0][1]), opens, heading)
        else:
            out.append(item)
    return out


def chunk_article(article: Article, max_chars: int = 400, overlap: int = 0) -> list[Passage]:
    """Pack the article's sentences into passages; see the module docstring for the rules."""
    passages: list[Passage] = []

    def emit(sentences: list[tuple[int, int]]) -> None:
        s, e = sentences[0][0], sentences[-1][1]
        passages.append(Passage(article.source, article.title, article.language, article.text[s:e], s, e,
                                sentences=tuple(sentences)))

    for section in article.sections:
        # (sentence span, is the first sentence of a paragraph, is a heading)
        items = [
            (span, i == 0, is_heading(article.text[p_start:p_end]))
            for p_start, p_end in section
            for i, span in enumerate(split_sentences(article.text, p_start, p_end, article.language))
        ]
        items = _join_lead_ins(article.text, items)
        current: list[tuple[int, int]] = []
        only_headings = False  # a run of headings (a title and its kicker; a list of one word per line) stays one
        for span, opens_paragraph, heading in items:
            if current:
                length = span[1] - current[0][0]
                full = current[-1][1] - current[0][0] >= max_chars // 2
                if length > max_chars or (heading and not only_headings) or (opens_paragraph and full):
                    emit(current)
                    current = current[-overlap:] if overlap and len(current) > overlap else []
            only_headings = heading and (only_headings or not current)
            current.append(span)
        if current:
            emit(current)
    return passages
