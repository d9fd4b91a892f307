"""Metrics, each defined here and checked against hand-computed values in tests/test_metrics.py.

Retrieval (answerable items only):
- hit: a retrieved passage comes from the gold `source` article and contains the gold `evidence`, both compared
  after collapsing white space;
- rank: the 1-based position of the first hit, None when there is none;
- recall@k: the share of items whose rank is <= k;
- MRR: the mean over items of 1/rank (0 for no hit).
- evidence rank: the 1-based position, in the evidence sentences best first, of the first sentence of the gold
  `source` whose span in the article overlaps the gold `evidence` (found with any run of white space between its
  words); None when none does. It says how many sentences a reader must be shown to have the answer in front of it.

Correctness (answerable items only; a refused answer scores 0):
- normalise(text, lang): citation markers removed, case and accents folded, punctuation removed, the articles of
  `lang` (and English) dropped, white space collapsed;
- STR-EM: some gold alias, normalised, occurs in the normalised answer (on word boundaries);
- token F1: the best over aliases of the F1 between the answer's and the alias's normalised tokens.
- lenient: STR-EM, or the normalised answer occurs in a normalised alias (on word boundaries) and holds a content
  word (not a stop word of any table language), or the answer's tokens hold every content word of an alias. It reads
  an answer as a person would: "Abarth" for "le petit constructeur italien Abarth", "Plutarque, Tacite" for
  "Plutarque et Tacite". A refusal scores 0.

Citations:
- evidence precision: the share of citations whose retrieved passage (the one holding the cited sentence) contains
  the gold evidence (answerable items).
- ALCE (Gao et al. 2023), per answer, with `supports(claim, premise)` the support judge (judge.py) and the premise
  of marker [n] the text of the answer's n-th citation (the sentence the user sees). The answer is split into
  sentences, each owning the markers in or right after it.
  - citation recall: the share of answer sentences supported by the joined premises of all their markers; a
    sentence with no marker, or with a marker beyond the citations (out of range), is not supported;
  - citation precision: of all markers in the answer, the share that are relevant: in a supported sentence, a
    marker is relevant if its premise alone supports the sentence, or if the sentence is no longer supported
    without it; in a sentence with a single marker, the marker is relevant when the sentence is supported; a
    redundant marker (alone it does not support, and the others do without it) and every marker of an unsupported
    sentence are not;
  - an empty answer scores 0 and 0; a refusal is not scored (None), it makes no claim. Run-level figures are the
    mean over scored answers.

Refusal: unanswerable items refused / unanswerable items; answerable items refused / answerable items.
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from assistant import lang

_WS = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def retrieval_rank(passages: Sequence, source: str, evidence: str) -> int | None:
    """1-based rank of the first passage of `source` that contains `evidence`; None when none does."""
    needle = _squash(evidence)
    for rank, p in enumerate(passages, start=1):
        if p.source == source and needle in _squash(p.text):
            return rank
    return None


def evidence_rank(sentences: Sequence, article: str, source: str, evidence: str) -> int | None:
    """1-based rank of the first of `sentences` (with source, start, end into `article`) of `source` that overlaps
    the gold `evidence` in `article`; None when none does or the evidence is not in the article."""
    found = re.search(r"\s+".join(map(re.escape, evidence.split())), article)
    if not found:
        return None
    for rank, s in enumerate(sentences, start=1):
        if s.source == source and s.start < found.end() and found.start() < s.end:
            return rank
    return None


def recall_at(ranks: Iterable[int | None], k: int) -> float:
    ranks = list(ranks)
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: Iterable[int | None]) -> float:
    ranks = list(ranks)
    return sum(1.0 / r for r in ranks if r) / len(ranks) if ranks else 0.0


def retrieval_summary(rows: Iterable[tuple[str, int | None]], ks: Sequence[int] = (1, 3, 5)) -> dict[str, dict]:
    """rows: (language, rank). Returns {"all": {...}, "en": {...}, ...} with n, recall@k and mrr."""
    groups: dict[str, list[int | None]] = defaultdict(list)
    for language, rank in rows:
        groups["all"].append(rank)
        groups[language].append(rank)
    out = {}
    for name in ["all"] + sorted(g for g in groups if g != "all"):
        ranks = groups[name]
        out[name] = {"n": len(ranks), **{f"recall@{k}": recall_at(ranks, k) for k in ks}, "mrr": mrr(ranks)}
    return out


_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_PUNCT = re.compile(r"[%s“”«»‘’–—…]" % re.escape(string.punctuation))


def normalise(text: str, language: str = "en") -> str:
    articles = {lang.fold(a) for a in set(lang.table(language)["articles"]) | set(lang.table("en")["articles"])}
    words = _PUNCT.sub(" ", lang.fold(_MARKER.sub(" ", text))).split()
    return " ".join(w for w in words if w not in articles)


def str_em(answer: str, aliases: Iterable[str], language: str = "en") -> bool:
    text = f" {normalise(answer, language)} "
    return any(f" {alias} " in text for alias in (normalise(a, language) for a in aliases) if alias)


def lenient(answer: str, aliases: Iterable[str], language: str = "en") -> bool:
    text = normalise(answer, language)
    words = set(text.split())
    stop = lang.merged("stopwords")
    for alias in (normalise(a, language) for a in aliases):
        if not alias:
            continue
        content = {w for w in alias.split() if w not in stop}
        if f" {alias} " in f" {text} ":
            return True
        if text and words - stop and f" {text} " in f" {alias} ":
            return True
        if content and content <= words:
            return True
    return False


def token_f1(answer: str, aliases: Iterable[str], language: str = "en") -> float:
    predicted = normalise(answer, language).split()
    best = 0.0
    for alias in aliases:
        gold = normalise(alias, language).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_has_evidence(citation, passages: Sequence, evidence: str) -> bool:
    """Does the retrieved passage that holds the cited sentence contain the gold evidence?"""
    needle = _squash(evidence)
    for p in passages:
        if p.source == citation.source and p.start <= citation.start and citation.end <= p.end:
            return needle in _squash(p.text)
    return False


def alce(answer: str, premises: Sequence[str], supports, language: str = "en",
         refused: bool = False) -> tuple[float, float] | None:
    """(citation recall, citation precision) of one answer; `premises[n - 1]` is what marker [n] cites."""
    if refused:
        return None
    from assistant.cite import split_answer

    sentences = [(s, c) for s, c in split_answer(answer or "", language) if s.strip() or c]
    if not sentences:
        return 0.0, 0.0
    supported_n, relevant, markers = 0, 0, 0
    for claim, cited in sentences:
        markers += len(cited)
        if not cited or any(not 1 <= n <= len(premises) for n in cited):
            continue
        joint = supports(claim, " ".join(premises[n - 1] for n in cited))
        supported_n += joint
        if not joint:
            continue
        if len(cited) == 1:
            relevant += 1
            continue
        for i, n in enumerate(cited):
            others = cited[:i] + cited[i + 1:]
            if supports(claim, premises[n - 1]) or not supports(claim, " ".join(premises[m - 1] for m in others)):
                relevant += 1
    return supported_n / len(sentences), (relevant / markers if markers else 0.0)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 1]); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def gold_shown(shown: Sequence[str], article: str, evidence: str) -> bool:
    """Does one of the `shown` sentence texts overlap the gold `evidence` in `article` (both located by their words,
    whatever the spacing)? False when the evidence is not in the article."""
    def locate(text: str) -> tuple[int, int] | None:
        found = re.search(r"\s+".join(map(re.escape, text.split())), article) if text.split() else None
        return (found.start(), found.end()) if found else None

    gold = locate(evidence)
    return gold is not None and any(s is not None and s[0] < gold[1] and gold[0] < s[1] for s in map(locate, shown))
