"""Evidence: the sentences of the retrieved passages that the reader is shown, ranked for a question.

The sentences of the retrieved passages (headings and questions excluded: they assert nothing) get a `support`
score: their language-centred cosine with the question (retrieve.py) plus `_OVERLAP` times the IDF-weighted share of
the question's BM25 terms they contain. They are ranked by `score` = support + `_EXPANDED` times the same share
counted with term expansion (a question word is present when one of its cross-lingual neighbours is: "bought" in a
sentence with "acheté"). The best `evidence_sentences` are numbered [1]..[n] for the reader (`select`), and one more when those hold less than
`evidence_coverage` of the question's words (IDF-weighted, through their cross-lingual neighbours): the answer is then
likely elsewhere, and a sentence costs about 0.5-1 s of first token on 2 cores, so it is added only then.

`support` leaves the expansions out on purpose: it is what the `support` refusal check reads (checks.py), and every
word, "bacalhau" included, has some neighbour in the corpus; counting those rescued off-topic questions. The
expansions choose between sentences well, but do not say whether any answers.

Both weights are chosen on the training set (docs/settings.md). The hand rules that used to sit here (question
types, a gazetteer of places, units, names, "common words", a second quote) were removed when the reader arrived:
none lost on both sets without them (git history has them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .chunk import Passage, Span, is_heading
from .bm25 import analyze

__all__ = ["Evidence", "evidence_rows", "rank_evidence", "select", "question_coverage", "spread", "leads",
           "in_document_order"]

# Chosen on ../shared/train with the retrieval settings (`python -m evals fit retrieval`, docs/settings.md): 0, 0.1
# and 0.2 put the gold sentence among the two shown less often than 0.05.
_OVERLAP = 0.05
_EXPANDED = 0.05


@dataclass(frozen=True)
class Evidence(Span):
    """A candidate sentence: `row` is its sentence row in the index; `score` ranks, `support` decides refusal."""

    score: float
    row: int
    support: float = 0.0
    passage: int = -1  # the position of its passage among the retrieved passages


def _coverage(groups: dict[str, set[str]], weight: dict[str, float], stems: set[str]) -> float:
    """IDF-weighted share of the terms of `groups` that `stems` holds (a group: a term and its alternatives)."""
    total = sum(weight[t] for t in groups) or 1.0
    return sum(weight[t] for t, alternatives in groups.items() if alternatives & stems) / total


def evidence_rows(passages: list[Passage], index) -> list[int]:
    """The sentence rows of `passages` (those `rank_evidence` needs a score for), ascending."""
    row_of = index.sentence_row
    return sorted({row_of[(p.source, s, e)] for p in passages for s, e in p.sentences})


def rank_evidence(passages: list[Passage], sentence_scores, index, question: str,
                  idf: dict[str, float] | None = None,
                  groups: dict[str, set[str]] | None = None) -> list[Evidence]:
    """Every non-heading, non-question sentence of `passages`, best first. `sentence_scores` maps a sentence row
    (`evidence_rows`) to the question's language-centred cosine with it (an array by row, or a dict). `idf` weighs
    the question terms (a word found everywhere, like "Meta" here, says little); unweighted when not given.
    `groups` is `Retriever.term_groups` of the retrieval query (for a follow-up, the previous question too): each
    term with its cross-lingual neighbours; without it the ranking uses the question's own terms."""
    row_of = index.sentence_row  # built once per index, not per question
    own = {t: {t} for t in analyze(question)}
    expanded = groups or own
    # A question word the articles never use (idf has no entry) weighs as much as the rarest word they do use: it is
    # missing from every sentence alike, and leaving it out would let the few common words that do match (here "AI",
    # "Meta") count as full coverage of the question.
    unseen = max(idf.values(), default=1.0) if idf else 1.0
    weight = {t: (idf or {}).get(t, unseen) for t in {*own, *expanded}}
    seen, candidates = set(), []
    for rank, p in enumerate(passages):
        for s, e in p.sentences:
            key = (p.source, s, e)
            text = p.text[s - p.start:e - p.start]  # the passage is its article's text from p.start
            if key in seen or is_heading(text) or text.rstrip(" \"'»”’)").endswith("?"):
                continue
            seen.add(key)
            stems = set(analyze(text))
            support = float(sentence_scores[row_of[key]]) + _OVERLAP * _coverage(own, weight, stems)
            score = support + _EXPANDED * _coverage(expanded, weight, stems)
            candidates.append(Evidence(p.source, p.title, p.language, text, s, e, score, row_of[key], support, rank))
    candidates.sort(key=lambda ev: -ev.score)
    return candidates


def question_coverage(sentences: list[Evidence], question: str, idf: dict[str, float] | None,
                      groups: dict[str, set[str]] | None) -> float:
    """IDF-weighted share of the question's terms (each with its cross-lingual neighbours, `groups`) that the
    sentences hold together."""
    terms = groups or {t: {t} for t in analyze(question)}
    unseen = max(idf.values(), default=1.0) if idf else 1.0
    weight = {t: (idf or {}).get(t, unseen) for t in terms}
    stems = {s for ev in sentences for s in analyze(ev.text)}
    return _coverage(terms, weight, stems)


def select(candidates: list[Evidence], n: int, question: str, idf: dict[str, float] | None,
           groups: dict[str, set[str]] | None, coverage: float) -> list[Evidence]:
    """The best `n` candidates, and the next one too when those hold less than `coverage` of the question's words."""
    chosen = candidates[:n]
    if len(candidates) > n and coverage > 0 and question_coverage(chosen, question, idf, groups) < coverage:
        chosen = candidates[:n + 1]
    return chosen


def spread(candidates: list[Evidence], n: int, vectors: np.ndarray, diversity: float) -> list[Evidence]:
    """`n` candidates for an answer of several facts: maximal marginal relevance. The best first, then each time the
    one with the highest (1 - diversity) * score - diversity * (its highest cosine with those chosen), scores scaled
    to 0..1 among the candidates; `vectors[i]` is candidate i's unit sentence vector (the same fact said in two
    articles, in two languages, is a repeat)."""
    if len(candidates) <= n:
        return list(candidates)
    scores = np.array([c.score for c in candidates], dtype=np.float64)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    chosen = [int(np.argmax(relevance))]
    closest = vectors @ vectors[chosen[0]]
    while len(chosen) < n:
        value = (1 - diversity) * relevance - diversity * closest
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        closest = np.maximum(closest, vectors @ vectors[best])
    return [candidates[i] for i in chosen]


def in_document_order(sentences: list[Evidence]) -> list[Evidence]:
    """Grouped by article (in the order the articles first appear), each article's in the order it tells them."""
    first = {}
    for i, ev in enumerate(sentences):
        first.setdefault(ev.source, i)
    return sorted(sentences, key=lambda ev: (first[ev.source], ev.start))


_LEAD_MIN_CHARS = 60  # shorter first lines are captions, datelines or bylines, not what the article is about


def leads(passages_of, sources: list[str], sentence_scores, row_of) -> list[Evidence]:
    """The first sentence of each article in `sources` that says something (not a heading, a question or a short
    line): what "summarise the articles" is answered from. `passages_of(source)`: the article's passages in order;
    `sentence_scores` maps a sentence row to its score for the question."""
    out = []
    for source in sources:
        for p in passages_of(source):
            found = None
            for s, e in p.sentences:
                text = p.text[s - p.start:e - p.start]
                if len(text) >= _LEAD_MIN_CHARS and not is_heading(text) and not text.rstrip().endswith("?"):
                    found = (s, e, text)
                    break
            if found:
                s, e, text = found
                row = row_of[(source, s, e)]
                score = float(sentence_scores[row])
                out.append(Evidence(source, p.title, p.language, text, s, e, score, row, score, -1))
                break
    return out
