"""Numbers with their size, across languages: "405 bilhões" = "405 billion" = "405 milliards" = 405e9.

`quantities(text, language)` returns the values of the numbers written in `text`:
- digits with their separators read the usual ways: "14 000" and "14.000" and "14,000" are 14000 (a group of three
  digits after a separator is a thousands group), "14,3" and "14.3" are 14.3, "1.234,5" is 1234.5;
- times the scale word or letter after them, from the language's `scales` table (data/languages.json), then from the
  other languages' tables for words it lacks: "700 mil" is 700e3 and "700 milhões" 700e6; "mil milhões" 1e9; a French
  "billion" is 1e12 (the long scale), an English one 1e9; "405B" and "14bn" (letters attached to the digits) too;
- a number before a range word ("5 a 10 bilhões", "5 to 10 billion") takes the scale of the number after it;
- with `words=True`, the spelled-out numbers of `digit_words` as well ("nove dígitos" -> 9).

`same_size(a, b)` compares two values. The verifier (cite.py) and the evaluation's judge use these to check that a
number keeps its size on its way from an article to an answer in another language.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from . import lang

__all__ = ["quantities", "same_size", "parse_number", "currencies"]

_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+(?:[.,]\d+)?(?![\d])|\d+(?:[.,]\d+)?)")
_SUFFIX = re.compile(r"([A-Za-z]{1,2})\b")
_AFTER = re.compile(r"\s*([^\W\d_]+)(?:\s+([^\W\d_]+))?")
_RANGE = re.compile(r"\s*(?:a|à|to|-|–|e|and|et|ou|or)\s*$", re.IGNORECASE)


def parse_number(raw: str) -> float:
    """"14 000" -> 14000, "14,3" -> 14.3, "1.234,5" -> 1234.5, "3.1" -> 3.1, "1,000" -> 1000."""
    raw = re.sub(r"[\u00a0\u202f]", " ", raw)
    pieces = re.split(r"([ .,])", raw)
    groups, seps = pieces[0::2], pieces[1::2]
    if not seps:
        return float(raw)
    if seps[-1] in ".," and (len(groups[-1]) != 3 or len(set(seps)) > 1 or seps[-1] == " "):
        return float("".join(groups[:-1]) + "." + groups[-1])
    return float("".join(groups))


@lru_cache(maxsize=None)
def _scales(language: str) -> dict[str, float]:
    """The language's scale words, then those of the other languages that it does not have: a reader answering in
    French may copy a Portuguese "bilhões" from its evidence, which still means 1e9."""
    scales = {}
    for code in (language, *lang.LANGUAGES):
        for k, v in lang.table(code).get("scales", {}).items():
            scales.setdefault(lang.fold(k), float(v))
    return scales


@lru_cache(maxsize=None)
def _digit_words(language: str) -> dict[str, float]:
    return {lang.fold(k): float(v) for k, v in lang.table(language).get("digit_words", {}).items()}


def quantities(text: str, language: str, *, words: bool = False) -> list[float]:
    """The values of the numbers in `text`, in order (see the module docstring)."""
    scales = _scales(language)
    found: list[tuple[int, int, float, bool]] = []  # start, end, value, scaled
    for m in _NUMBER.finditer(text):
        value, scaled = parse_number(m.group(1)), False
        attached = _SUFFIX.match(text, m.end())
        if attached and lang.fold(attached.group(1)) in scales and len(attached.group(1)) <= 2:
            value, scaled = value * scales[lang.fold(attached.group(1))], True
        else:
            after = _AFTER.match(text, m.end())
            if after:
                two = lang.fold(f"{after.group(1)} {after.group(2)}") if after.group(2) else None
                one = lang.fold(after.group(1))
                if two in scales:
                    value, scaled = value * scales[two], True
                elif one in scales and len(one) > 2:  # spaced letters ("405 B") are too ambiguous to count
                    value, scaled = value * scales[one], True
        found.append((m.start(), m.end(), value, scaled))
    values = [v for _, _, v, _ in found]
    for i in range(len(found) - 1):  # "5 a 10 bilhões": the 5 is 5 billion
        start, end, value, scaled = found[i]
        nxt = found[i + 1]
        if not scaled and nxt[3] and _RANGE.match(text[end:nxt[0]]) and nxt[0] - end <= 5:
            values[i] = value * (nxt[2] / parse_number(_NUMBER.match(text, nxt[0]).group(1)))
    if words:
        table = _digit_words(language)
        values += [table[w] for w in re.findall(r"[^\W\d_]+", lang.fold(text)) if w in table]
    return values


def same_size(a: float, b: float) -> bool:
    """Whether two quantities are the same number (up to float rounding)."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


# symbols, longest first ("US$" before "$"); currency words are per language (data/languages.json `currencies`)
_SYMBOLS = (("US$", "USD"), ("R$", "BRL"), ("C$", "CAD"), ("A$", "AUD"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"),
            ("¥", "JPY"))


def currencies(text: str) -> set[str]:
    """The currencies `text` names, as ISO codes, from symbols and every table language's currency words:
    "US$ 5 a 10 bilhões" and "5 to 10 billion dollars" both name {"USD"}; "10 milliards d'euros" names {"EUR"}."""
    found, rest = set(), text
    for symbol, code in _SYMBOLS:
        if symbol in rest:
            found.add(code)
            rest = rest.replace(symbol, " ")
    words = _currency_words()
    found.update(words[w] for w in re.findall(r"[^\W\d_]+", lang.fold(rest)) if w in words)
    return found


@lru_cache(maxsize=1)
def _currency_words() -> dict[str, str]:
    return {lang.fold(word): code for language in lang.LANGUAGES
            for word, code in lang.table(language).get("currencies", {}).items()}
