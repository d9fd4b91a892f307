"""Citation parsing and verification: keep only answer sentences that their cited evidence supports.

An answer is split into sentences; each sentence owns the `[n]` markers inside or right after it. A sentence is
kept when all of these hold (`Signals.reason` names the first that fails, recorded as why it was dropped):
1. "no citation": it cites an evidence sentence it was shown, or one that supports it is found (below);
2. "number": every number written in digits in it, with its size ("405 billion" = "405 bilhões", "14.3 billion" =
   "14,3 bilhões", "9" = "nove"; quantities.py), is a number of the cited evidence or of the question: "700 mil" is not
   "700 milhões"; "currency": every currency it names ("US$", "euros") is named there too;
3. "name": every name in it (a capitalised word that is not the first word, nor a stop word) is in the cited
   evidence, compared accent- and case-folded on a common beginning ("Iran" ~ "Irão", "China" ~ "Chine") or through
   a cross-lingual neighbour that holds its first letters ("Londres" ~ "London"; not "Irlande" ~ "Irão"): a name the
   evidence does not hold is the reader's invention. A capitalised word with a neighbour that the evidence writes
   only in lower case is a common word ("Prize" ~ "prix", "March" ~ "mars"), left to rule 5;
4. "restates the question": it says something the question does not (a content word or a number of its own);
5. "words": at least `coverage` of its content words are in the evidence, as they are, up to their ending, or
   through a cross-lingual neighbour ("bought" ~ "acheté"), a spelled-out number by its value ("two" ~ "dois") and a
   scale word by the number rule ("billion" ~ "bilhão"): "OpenAI won the 2018 FIFA World Cup final", drafted from a
   sentence about OpenAI, has one of seven;
6. "meaning": the embedding of the question followed by the sentence (a short answer, "Seoul", says something only
   after its question) reaches a cosine of `similarity` with the closest cited evidence sentence (multilingual, so an
   English answer can be supported by a French sentence).
A sentence that copies words of an evidence sentence (span.py: in order, up to their endings) becomes those words,
exactly as written, and cites that sentence; its numbers and names are then the evidence's by construction, and only
rule 4 applies to it (rules 5 and 6 would only reject right answers that repeat few of the sentence's words). The
span's offsets in the sentence are kept (`Verified.spans`).
A sentence whose content words are all in a sentence kept before it is dropped as a "repeat" (a long answer's
reader sometimes says one fact twice). A sentence that fails against the sentence it cites (or cites none it was shown), but passes against another
evidence sentence, cites that one instead: the reader's marker is a guess. Everything else is removed. Markers are then renumbered 1..m in order of
first use. The thresholds are calibrated on
labelled pairs of real drafts (evals/gold/support_pairs.jsonl, `python -m evals judge`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from . import lang
from .chunk import split_sentences
from .quantities import currencies, quantities, same_size
from .bm25 import analyze
from .span import copied_span

__all__ = ["MARKER", "names", "may_name", "grounded", "split_answer", "Signals", "signals", "Support", "Verified",
           "verify", "with_markers", "check_rendering"]

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_NAME = re.compile(r"(?<![\w])[A-ZÀ-Ý][\w'’-]+")
_WORD = re.compile(r"[^\W\d_]+")
_NAME_RUN = 4  # the first letters of a name that a cross-lingual neighbour must hold to stand for it


def names(text: str) -> set[str]:
    """Capitalised words other than the first word, folded; stop words and markers excluded."""
    stop = lang.merged("stopwords")
    stripped = MARKER.sub(" ", text).strip().lstrip("“\"«'")
    found = set()
    for m in _NAME.finditer(stripped):
        if m.start() == 0:
            continue
        for part in re.split(r"['’-]", lang.fold(m.group(0))):
            if part not in stop and len(part) > 1:
                found.add(part)
    return found


def may_name(name: str, neighbour: str) -> bool:
    """May `neighbour`, a cross-lingual neighbour of `name` (both folded), stand for it? When it holds the name's first
    letters ("londres" for "london", "escala" for "scale"; not "irao" for "irlande", "empenhadas" for "lusiadas")."""
    return name[:_NAME_RUN] in neighbour


def grounded(name: str, words: set[str]) -> bool:
    """Is `name` one of `words` up to its ending: a common beginning of 5 letters, or of all but its last letter
    for a short name ("iran" ~ "irao", "china" ~ "chine")?"""
    need = 5 if len(name) > 5 else max(3, len(name) - 1)
    head = name[:need]
    return any(w.startswith(head) for w in words if len(w) >= need) or name in words


@lru_cache(maxsize=None)
def _number_terms() -> dict[str, float | None]:
    """The BM25 terms of every language's spelled-out numbers (their value) and scale words (None)."""
    found: dict[str, float | None] = {}
    for code in lang.LANGUAGES:
        for word, value in lang.table(code).get("digit_words", {}).items():
            found.update((t, float(value)) for t in analyze(word) if t not in found)
        for word in lang.table(code).get("scales", {}):
            if len(word) > 2:
                found.update((t, None) for t in analyze(word) if t not in found)
    return found


def _lower_only(text: str) -> set[str]:
    """The BM25 terms of `text` that it writes only in lower case (common words, never a name)."""
    lower, upper = set(), set()
    for word in _WORD.findall(text):
        (lower if word.islower() else upper).update(analyze(word))
    return lower - upper


def _content(text: str) -> set[str]:
    stop = lang.merged("stopwords")
    return {w[:5] for w in _WORD.findall(lang.fold(MARKER.sub(" ", text))) if w not in stop and len(w) > 2}


def split_answer(text: str, language: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, marker numbers) for each sentence; a run of bare markers joins the previous one."""
    out: list[tuple[str, list[int]]] = []
    for s, e in split_sentences(text, 0, len(text), language):
        piece = text[s:e]
        lead = re.match(r"(\s*\[\d+(?:\s*,\s*\d+)*\])+", piece)
        if lead and out:  # "... dollars. [2] Next sentence": [2] belongs to the sentence before
            out[-1][1].extend(int(n) for group in MARKER.findall(lead.group(0)) for n in re.split(r"\s*,\s*", group))
            piece = piece[lead.end():]
        cited = [int(n) for group in MARKER.findall(piece) for n in re.split(r"\s*,\s*", group)]
        bare = re.sub(r"\s+([.!?,;:])", r"\1", " ".join(MARKER.sub(" ", piece).split()))
        if not re.search(r"\w", bare) and out:
            out[-1][1].extend(cited)
            continue
        out.append((bare, cited))
    return out


@dataclass(frozen=True)
class Signals:
    """What verification reads off one answer sentence and the evidence it cites (rules 2-5)."""

    numbers: bool  # every number of the sentence, with its size, is the evidence's or the question's
    names: bool  # every name of the sentence is in the evidence (or the question, when allowed)
    adds: bool  # it says something the question does not
    coverage: float  # share of its content words found in the evidence, directly or through a neighbour
    similarity: float  # cosine with the closest cited evidence sentence
    currency: bool = True  # every currency it names is named by the evidence or the question

    def reason(self, coverage: float, similarity: float) -> str | None:
        """None when supported at these thresholds, else the first rule that fails."""
        if not self.numbers:
            return "number"
        if not self.currency:
            return "currency"
        if not self.names:
            return "name"
        if not self.adds:
            return "restates the question"
        if self.coverage < coverage:
            return "words"
        if self.similarity < similarity:
            return "meaning"
        return None


def signals(sentence: str, evidence: list[tuple[str, str]], question: str, language: str, similarity: float,
            groups: dict[str, set[str]] | None = None) -> Signals:
    """Rules 2-5 of the module docstring for one answer sentence (in `language`) against the (text, language) pairs
    it cites. `groups`: each BM25 term of the sentence with its cross-lingual neighbours (Retriever.term_groups), so
    that "bought" is found in "acheté"; without it a word must be found as it is, up to its ending."""
    allowed = [v for text, code in evidence for v in quantities(text, code, words=True)]
    allowed += quantities(question, language, words=True)
    numbers = all(any(same_size(v, a) for a in allowed) for v in quantities(sentence, language))
    joined = " ".join(text for text, _ in evidence)
    held = set(analyze(joined))
    words = set(_WORD.findall(lang.fold(joined + " " + question)))
    groups = groups if groups is not None else {}

    def found(term: str, name: bool = False) -> bool:
        # a name's translation keeps its first letters: "Irlande" is no neighbour of "Irão"
        alternatives = {n for n in groups.get(term, ()) if not name or may_name(term, n)}
        return bool(({term} | alternatives) & held) or any(h.startswith(term[:5]) for h in held if len(term) >= 5)

    # a capitalised word whose translation the evidence writes in lower case is a common word of a language that
    # capitalises more ("Prize", "Literature", "March" for "prix", "littérature", "mars"), checked as a word
    lower = _lower_only(joined)
    names_ok = all(grounded(name, words) or any(found(t, name=True) or bool(groups.get(t, set()) & lower)
                                                 for t in analyze(name))
                   for name in names(sentence))
    adds = _adds(sentence, language, question, language)
    terms = [t for t in dict.fromkeys(analyze(MARKER.sub(" ", sentence))) if not t[0].isdigit()]
    sized = numbers and bool(quantities(sentence, language))
    spelled = _number_terms()

    def said(term: str) -> bool:  # a number spelled out is found by its value ("two" in "dois"), a scale by its size
        if term in spelled:
            value = spelled[term]
            if sized if value is None else any(same_size(value, a) for a in allowed):
                return True
        return found(term)

    coverage = sum(said(t) for t in terms) / len(terms) if terms else 1.0
    currency = currencies(sentence) <= currencies(joined) | currencies(question)
    return Signals(numbers, names_ok, adds, coverage, similarity, currency)


@dataclass
class Verified:
    """What verification kept of an answer, what it dropped and why, and the words copies point at."""

    text: str  # the kept sentences with renumbered markers; "" when nothing was kept
    cited: list[int]  # evidence numbers (1-based, as given to the model) in the order of the new markers
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (removed sentence, the rule it failed)
    # evidence number -> (start, end) in that evidence sentence of the words a kept answer sentence copies
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Support:
    """How answer sentences are checked against what they cite. `embed(texts)` returns unit vectors for them (and the
    evidence), on the side of the embedder the evidence was embedded on; `coverage` and `similarity`: the thresholds
    of rules 4 and 5; `neighbours(text)`: the term groups of a sentence (see `signals`); `evidence_vectors`: the
    evidence's vectors, when the index has them (no need to embed them again)."""

    embed: Callable
    coverage: float
    similarity: float
    neighbours: Callable | None = None
    evidence_vectors: np.ndarray | None = None


def verify(answer: str, evidence: list[tuple[str, str]], question: str, language: str, support: Support,
           copies: bool = True) -> Verified:
    """Check `answer` against the numbered `evidence` ((text, language) pairs; [1] is evidence[0]) by `support`'s
    rules. `copies`: False for a reader that cannot read, whose copied words are not trusted to answer (every
    sentence then meets all the rules)."""
    candidates = [(s, [n for n in dict.fromkeys(c) if 1 <= n <= len(evidence)])
                  for s, c in split_answer(answer.strip(), language)]
    candidates = [(s, c) for s, c in candidates if s]
    sims = _similarities([f"{question} {s}" for s, _ in candidates], evidence, support)
    kept: list[tuple[str, list[int]]] = []
    dropped: list[tuple[str, str]] = []
    spans: dict[int, tuple[int, int]] = {}
    for (sentence, cited), row in zip(candidates, sims):
        copy = _copy(sentence, cited, evidence, row) if copies else None
        if copy is not None:
            n, (start, end) = copy
            words = evidence[n - 1][0][start:end]
            why = "restates the question" if not _adds(words, evidence[n - 1][1], question, language) else \
                "repeat" if _repeats(words, kept) else None
            if why:
                dropped.append((sentence, why))
                continue
            spans.setdefault(n, (start, end))
            kept.append((words if re.search(r"[.!?…]$", words) else words + ".", [n]))
            continue
        reason, cited = _judged(sentence, cited, evidence, (question, language), row, support)
        if reason is None and _repeats(sentence, kept):
            reason = "repeat"
        if reason is None:
            kept.append((sentence, cited))
        else:
            dropped.append((sentence, reason))
    order = list(dict.fromkeys(n for _, cited in kept for n in cited))
    renumber = {n: i + 1 for i, n in enumerate(order)}
    return Verified(" ".join(with_markers(s, [renumber[n] for n in cited]) for s, cited in kept), order, dropped,
                    spans)


def _similarities(texts: list[str], evidence: list[tuple[str, str]], support: Support) -> list[list[float]]:
    """For each text (a question followed by an answer sentence: a short answer means something after its
    question), its cosine with each evidence sentence."""
    if not texts:
        return []
    if support.evidence_vectors is None:
        vectors = support.embed(texts + [text for text, _ in evidence])
        sent_vecs, ev_vecs = vectors[: len(texts)], vectors[len(texts):]
    else:
        sent_vecs, ev_vecs = support.embed(texts), support.evidence_vectors
    return [[float(sent_vecs[i] @ ev_vecs[n]) for n in range(len(evidence))] for i in range(len(texts))]


def _judged(sentence: str, cited: list[int], evidence: list[tuple[str, str]], asked: tuple[str, str],
            sims: list[float], support: Support) -> tuple[str | None, list[int]]:
    """The rule an answer sentence that is not a copy fails (None: it holds), and what it cites then: the reader's
    marker is a guess (or missing, or beyond the sentences it was shown), so another evidence sentence that holds
    what it says is cited instead."""
    question, language = asked
    groups = support.neighbours(sentence) if support.neighbours else None

    def judged(numbers: list[int]) -> str | None:
        found = signals(sentence, [evidence[n - 1] for n in numbers], question, language,
                        max(sims[n - 1] for n in numbers), groups)
        return found.reason(support.coverage, support.similarity)

    reason = judged(cited) if cited else "no citation"
    if reason is not None and reason != "restates the question":
        other = next((n for n in sorted(range(1, len(evidence) + 1), key=lambda n: -sims[n - 1])
                      if [n] != cited and judged([n]) is None), None)
        if other is not None:
            return None, [other]
    return reason, cited


def _repeats(sentence: str, kept: list[tuple[str, list[int]]]) -> bool:
    """Does `sentence` say nothing a kept sentence has not said (its content words all in one of them)?"""
    words = _content(sentence)
    return any(words <= _content(other) for other, _ in kept) if words else bool(kept)


def _copy(sentence: str, cited: list[int], evidence: list[tuple[str, str]],
          sims: list[float]) -> tuple[int, tuple[int, int]] | None:
    """The evidence sentence `sentence` copies words of, and where: those it cites first, then the others, closest
    first."""
    others = sorted((n for n in range(1, len(evidence) + 1) if n not in cited), key=lambda n: -sims[n - 1])
    for n in [*cited, *others]:
        span = copied_span(sentence, evidence[n - 1][0])
        if span is not None:
            return n, span
    return None


def _adds(sentence: str, sentence_language: str, question: str, language: str) -> bool:
    """Does `sentence` say something `question` (in `language`) does not (rule 4): a content word or a number of its
    own?"""
    return bool(_content(sentence) - _content(question)) or bool(
        set(quantities(sentence, sentence_language)) - set(quantities(question, language)))


def with_markers(sentence: str, numbers_: list[int]) -> str:
    """'Meta bought 49%.' + [1] -> 'Meta bought 49% [1].' (markers before the closing punctuation)."""
    marks = "".join(f"[{n}]" for n in numbers_)
    m = re.search(r"[.!?…]+[\"'»”’)]*$", sentence)
    return f"{sentence[: m.start()]} {marks}{sentence[m.start():]}" if m else f"{sentence} {marks}"


def check_rendering(rendering: str, words: str, words_language: str, question: str, language: str) -> str | None:
    """Why `rendering` (the reader's `words` said in `language`) cannot stand for them, or None when it can: its
    numbers must be the words' (or the question's) with their size, its names theirs (or the question's), and it must
    be short, not a refusal."""
    from .prompt import is_refusal

    text = MARKER.sub(" ", rendering).strip(" \"“”«»'.")
    if not text or is_refusal(text):
        return "empty"
    if len(text) > 3 * len(words) + 20:
        return "too long"
    allowed = quantities(words, words_language, words=True) + quantities(question, language, words=True)
    if not all(any(same_size(v, a) for a in allowed) for v in quantities(text, language)):
        return "number"
    known = set(_WORD.findall(lang.fold(f"{words} {question}")))
    if not all(grounded(name, known) for name in names(text)):  # the first word may be capitalised as any
        return "name"
    # said half: some of the copy's common words kept, others replaced ("espectro de passage" for "espectro de
    # abertura"); a word both languages write alike then reads as the wrong language
    skip = lang.merged("stopwords") | lang.merged("scales") | lang.merged("digit_words")  # numbers: checked above
    common = {w for w in _WORD.findall(lang.fold(words)) if len(w) > 2 and w not in skip} - set(names(words))
    said = set(_WORD.findall(lang.fold(text)))
    if common & said and common - said:
        return "said half"
    return None
