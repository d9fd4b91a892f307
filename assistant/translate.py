"""A quote said in the asker's language.

When nothing the reader drafted holds up, the answer is a quoted sentence of an article, and that sentence may be in
a language the asker did not ask in (an English question over a Portuguese article). The reader then translates the
sentence, reading on from its own answer's chat (that prompt is already in llama.cpp's memory), and the translation
is checked against the sentence as an answer sentence is (cite.signals): its numbers with their size and its names
are the sentence's (or the question's), every number of the sentence is kept with its currency, its words are found
in the sentence (directly or through a cross-lingual neighbour), it does not begin with a yes or a no of its own, its
meaning is the sentence's (the embedder's cosine), and it is in the asker's language. A translation that fails any of
these is dropped, with its reason, and the sentence is quoted as written. Either way the citation is the sentence as
written, with its offsets, so the sources panel highlights it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import closing

from . import lang, prompt
from .answer import Draft
from .cite import MARKER, signals
from .generate import Generator
from .quantities import currencies, quantities, same_size

__all__ = ["translate", "check_translation", "TRANSLATION_LENGTH"]

# the translation's length against the sentence's, in characters: outside it, a summary or a ramble
TRANSLATION_LENGTH = (0.5, 2.0)


def translate(generator: Generator, messages: list, reply: str, sentence: str, source: str,
              language: str) -> Iterator[Draft]:
    """Yield the reader's translation of `sentence` (in `source`) into `language` as `Draft` pieces, the first one
    withdrawing the draft shown before it; returns the translation, on one line, without markers."""
    asked = prompt.translate_messages(messages, reply, sentence, source, language)
    said = ""
    budget = 32 + len(sentence) // 2  # tokens: about a token per 3-4 characters, and room to spare
    with closing(generator.stream(asked, budget)) as pieces:
        for piece in pieces:
            if "\n" in (said + piece).strip():
                said += piece
                break
            if piece:
                yield Draft(piece, restart=not said)
            said += piece
    line = said.strip().split("\n")[0]
    return " ".join(MARKER.sub(" ", line).split()).strip(" \"“”«»'")


_ROMAN = re.compile(r"\b([IVXLC]{2,})(?:e|er|ème)?\b")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def _roman(text: str) -> str:
    """The values of `text`'s Roman numerals of two letters or more, as digits ("XVIe siècle" -> "16")."""
    values = []
    for m in _ROMAN.finditer(text):
        digits = [_ROMAN_VALUES[c] for c in m.group(1)]
        values.append(sum(-d if i + 1 < len(digits) and d < digits[i + 1] else d for i, d in enumerate(digits)))
    return " ".join(map(str, values))


def _aligned(text: str, sentence: str, languages: tuple[str, str]) -> str:
    """`text` with the words a translation rightly changes written as `sentence` writes them, for the name and word
    rules: an acronym whose letters the sentence's has in another order ("AI" for "IA", "EU" for "UE"), a month
    ("October" for "octobre")."""
    source, language = languages
    acronyms = {"".join(sorted(a)): a for a in re.findall(r"\b[A-Z]{2,5}\b", sentence)}
    text = re.sub(r"\b[A-Z]{2,5}\b", lambda m: acronyms.get("".join(sorted(m.group(0))), m.group(0)), text)
    theirs, ours = lang.table(source).get("months", []), lang.table(language).get("months", [])
    folded = set(re.findall(r"[^\W\d_]+", lang.fold(sentence)))
    for month, same in zip(ours, theirs):
        if lang.fold(same) in folded:
            text = re.sub(rf"\b{month}\b", same, text, flags=re.IGNORECASE)
    return text


def check_translation(text: str, quoted: tuple[str, str], asked: tuple[str, str], similarity: float,
                      thresholds: tuple[float, float], groups: Callable[[str], dict] | None = None) -> str | None:
    """Why `text` cannot stand for the `quoted` (sentence, its language) said in the language of the `asked`
    (question, language), or None when it can. A name of the question may be said ("AI" for the sentence's "IA"), as
    in an answer. `similarity`: the embedder's cosine of translation and sentence; `thresholds`: (share of its words
    found in the sentence, cosine) it needs; `groups(text)`: cross-lingual neighbours of its words
    (Retriever.term_groups)."""
    (sentence, source), (question, language) = quoted, asked
    if not text or prompt.is_refusal(text):
        return "empty"
    low, high = TRANSLATION_LENGTH
    if not low <= len(text) / max(1, len(sentence)) <= high:
        return "length"
    if lang.detect_language(text, default=None) not in (None, language):
        return "language"
    first = lambda words: next(iter(re.findall(r"[^\W\d_]+", lang.fold(words))), "")  # noqa: E731
    said = lambda code: {lang.fold(w) for w in lang.table(code).get("yes_no", ())}  # noqa: E731
    if first(text) in said(language) and first(sentence) not in said(source):  # ("No entanto" is no "no")
        return "answers"  # "Non, ..." for a sentence that says no such thing: the reader answered the question
    # a century in Roman numerals is said in digits ("XVIe siècle", "16th century"): the question side of `signals`
    aligned = _aligned(text, sentence, (source, language))
    found = signals(aligned, [(sentence, source)], f"{question} {_roman(sentence)}", language, similarity,
                    groups(aligned) if groups else None)
    if not found.numbers:
        return "number"
    kept = quantities(text, language, words=True)
    if not all(any(same_size(v, k) for k in kept) for v in quantities(sentence, source)):
        return "number left out"
    if currencies(text) != currencies(sentence):  # "US$ 5 a 10 bilhões" is not "5 à 10 milliards d'euros"
        return "currency"
    if not found.names:
        return "name"
    coverage, cosine = thresholds
    if found.coverage < coverage:
        return "words"
    if similarity < cosine:
        return "meaning"
    return None
