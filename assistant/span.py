"""Copy: an answer sentence that repeats words of the sentence it cites becomes those words, exactly as written.

The reader is asked to copy the words that answer (prompts/answer_system.txt), and mostly does, with small slips:
another case, a dropped accent, "Les ex-officiers britanniques" for "ex-officiers de l'armée britannique". When an
answer sentence is such a copy, `copied_span` finds the stretch of the cited sentence it copies, and the answer says
that stretch instead: grounded by construction, with its character offsets, which the citation keeps and the web UI
highlights. An answer said in another language than the sentence ("405 billion" for "405 bilhões") is not a copy;
it keeps the reader's words and is verified as before (cite.py).

A copy: every content word of the answer (not a stop word of a table language) is found in the sentence, in order,
each as it is or up to its ending (a common beginning of 5 letters), with at most `_GAP` words of the sentence
between two of them and at most a quarter of the answer's words missing (small words the reader added: "en", "les").
Of several such stretches, the one with the fewest answer words missing, then the shortest. The span runs from the
first word found to the last, and takes in the closing bracket or quote mark of one it opens.
"""

from __future__ import annotations

import re

from . import lang

__all__ = ["copied_span", "needs_rendering"]

_WORD = re.compile(r"\w+(?:[.,'’-]\w+)*|[%$€£¥]")  # words, numbers, and the signs that give a number its unit
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_GAP = 2  # words of the sentence the reader may leave out between two it copied
_CLOSING = {"(": ")", "«": "»", "“": "”", "[": "]", '"': '"'}


def _same(a: str, b: str) -> bool:
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


def copied_span(answer: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the words `answer` copies (markers ignored), or None when it is not a copy."""
    stop = lang.merged("stopwords")
    said = [lang.fold(m.group(0)) for m in _WORD.finditer(_MARKER.sub(" ", answer))]
    words = [(m.start(), m.end(), lang.fold(m.group(0))) for m in _WORD.finditer(sentence)]
    if not said or not any(w not in stop for w in said):
        return None
    best = None
    for first in range(len(words)):  # each place the copy could begin
        found, at, missing = [], first, 0
        for w in said:
            hit = next((j for j in range(at, min(len(words), at + (_GAP + 1 if found else 1)))
                        if _same(words[j][2], w)), None)
            if hit is None:
                if w not in stop:
                    break
                missing += 1
                continue
            found.append(hit)
            at = hit + 1
        else:
            if found and missing <= len(said) // 4:
                span = (words[found[0]][0], words[found[-1]][1])
                key = (missing, span[1] - span[0])  # the closest copy: fewest words missing, then the shortest
                if best is None or key < best[0]:
                    best = key, span
    if best is None:
        return None
    start, end = _close_brackets(sentence, *best[1])
    return (start, end) if re.search(r"\w", sentence[start:end]) else None


def _close_brackets(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Balance the span's brackets and quote marks: take in the closing mark right after a bracket it opens
    ("(OAPEC" -> "(OAPEC)"), else end it before that bracket; begin it after a closing mark whose opening it lacks."""
    for opening, closing in _CLOSING.items():
        text = sentence[start:end]
        if opening == closing:
            if text.count(opening) % 2 == 0:
                continue
            m = re.match(rf"\s*{re.escape(closing)}", sentence[end:])
            if m:
                end += m.end()
            continue
        if text.count(opening) > text.count(closing):
            m = re.match(rf"\s*{re.escape(closing)}", sentence[end:])
            if m:
                end += m.end()
            else:  # the bracket closes further on: the span ends before it
                end = start + len(text[:text.rindex(opening)].rstrip(" ,;:"))
        elif text.count(closing) > text.count(opening):
            cut = text.index(closing) + 1
            start += cut + len(text[cut:]) - len(text[cut:].lstrip(" ,;:"))
    return (start, end) if end > start else (start, start)


def needs_rendering(words: str, words_language: str, language: str) -> bool:
    """Must copied `words` (in `words_language`) be said again in `language` for the asker? Yes when the languages
    differ and a word of them is neither a name (capitalised), a number, nor a stop word: "Cork City" and "405B"
    read the same in every language, "exponenciação modular" does not."""
    if words_language == language:
        return False
    stop = lang.merged("stopwords")
    return any(w[0].islower() and w.isalpha() and len(w) > 2 and lang.fold(w) not in stop
               for w in (m.group(0) for m in _WORD.finditer(words)))
