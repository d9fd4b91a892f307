"""From retrieved passages to the evidence a reader sees, the refusal before it, the `Answer` types, and the quote
that replaces an answer that fails verification.

1. Evidence (`select_evidence`): the sentences of the retrieved passages (headings and questions excluded: they assert
   nothing) get a `support` score: their language-centred cosine with the question (retrieve.py) plus `_OVERLAP` times
   the IDF-weighted share of the question's BM25 terms they contain. They are ranked by `score` = support +
   `_EXPANDED` times the same share counted with term expansion (a question word is present when one of its
   cross-lingual neighbours is: "bought" in a sentence with "acheté"). The best `evidence_sentences` are numbered
   [1]..[n] for the reader.
2. Refusal before the reader (the `support` check): when no sentence's support reaches `refusal_threshold`, the
   question is refused without calling the model. Support leaves the expansions out on purpose: every word,
   "bacalhau" included, has some neighbour in the corpus, and counting those rescued off-topic questions; they choose
   between sentences well, but do not say whether any answers. Whether the evidence answers is then the reader's
   call (generate.Abstention).
3. The quote (`extractive`): when no sentence of the reader's answer survives verification, the answer quotes the
   best evidence sentence, cited, in the article's language.

Both weights lose alias-in-answer on the dev set and on ../shared/outside when set to 0 (evaluation.md). The hand
rules that used to sit here (question types, a gazetteer of places, units, names, "common words", a second quote)
were removed when the reader arrived: none lost on both sets without them (git history has them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .chunk import Passage, _is_heading
from .retrieve import analyze

__all__ = ["Citation", "Answer", "Evidence", "select_evidence", "extractive", "citation"]

# Measured with the default reader (evaluation.md, "The hand rules"): setting either to 0 loses alias-in-answer on
# dev (0.701 -> 0.687 / 0.657) and on ../shared/outside (0.573 -> 0.562 / 0.550).
_OVERLAP = 0.05
_EXPANDED = 0.05


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence: `row` is its sentence row in the index; `score` ranks, `support` decides refusal."""

    source: str
    title: str
    language: str
    text: str
    start: int
    end: int
    score: float
    row: int
    support: float = 0.0
    passage: int = -1  # the position of its passage among the retrieved passages


@dataclass(frozen=True)
class Citation:
    """`[number]` in the answer text points at `text`, the sentence `article.text[start:end]` of `source`."""

    number: int
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    refused: bool
    language: str  # the language `text` is written in: the question's, or English for a question in another one
    mode: str  # "generated" | "extractive" | "refused"
    timings: dict[str, float] = field(default_factory=dict)  # seconds: retrieve, first_token, total, generation
    passages: list[Passage] = field(default_factory=list)  # what retrieval returned
    raw: str = ""  # the model's unverified text, when it was called
    evidence: list[Evidence] = field(default_factory=list)  # the numbered sentences the model was shown, [1] first
    tokens: int = 0  # pieces the model streamed (one per token for llama.cpp and OpenAI-compatible servers)
    refusal_reason: str = ""  # why the answer is a refusal (empty when it is not)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # draft sentences verification removed, and why
    abstain_probability: float | None = None  # the reader's probability of "no answer" at its first token
    question_language: str = ""  # what lang.identify found in the question ("de", "und"); "" when nothing said

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passages"] = [p.to_dict() for p in self.passages]
        d["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return d


def _coverage(groups: dict[str, set[str]], weight: dict[str, float], stems: set[str]) -> float:
    """IDF-weighted share of the terms of `groups` that `stems` holds (a group: a term and its alternatives)."""
    total = sum(weight[t] for t in groups) or 1.0
    return sum(weight[t] for t, alternatives in groups.items() if alternatives & stems) / total


def select_evidence(passages: list[Passage], sentence_scores: np.ndarray, index, question: str,
                    texts: dict[str, str], n: int, idf: dict[str, float] | None = None,
                    groups: dict[str, set[str]] | None = None,
                    floor: float = -np.inf) -> tuple[list[Evidence], str]:
    """The `n` best non-heading sentences of `passages`, best first, and the reason for refusing before the reader
    ("" when not refused). `idf` weighs the question terms (a word found everywhere, like "Meta" here, says little);
    unweighted when not given. `groups` is `Retriever.term_groups` of the retrieval query (for a follow-up, the
    previous question too): each term with its cross-lingual neighbours; without it the ranking uses the question's
    own terms. When no sentence's support reaches `floor` (the refusal threshold) the list is empty and the reason
    says so; otherwise every sentence is ranked, whatever its support."""
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
            text = texts[p.source][s:e]
            if key in seen or _is_heading(text) or text.rstrip(" \"'»”’)").endswith("?"):
                continue
            seen.add(key)
            stems = set(analyze(text))
            support = float(sentence_scores[row_of[key]]) + _OVERLAP * _coverage(own, weight, stems)
            score = support + _EXPANDED * _coverage(expanded, weight, stems)
            candidates.append(Evidence(p.source, p.title, p.language, text, s, e, score, row_of[key], support, rank))
    candidates.sort(key=lambda ev: -ev.score)
    if not candidates:
        return [], "the retrieved passages hold no sentence to answer from"
    best_support = max(c.support for c in candidates)
    if best_support < floor:
        return [], (f"support: no sentence of the retrieved passages is close to the question (best {best_support:.3f}, "
                    f"needed {floor:.3f})")
    return candidates[:n], ""


def citation(number: int, ev: Evidence) -> Citation:
    return Citation(number, ev.source, ev.title, ev.text, ev.start, ev.end, ev.score)


def extractive(candidates: list[Evidence]) -> tuple[str, list[Citation]]:
    """Quote the best evidence sentence, cited, in its article's language."""
    best = candidates[0]
    # " ".join(split()): a sentence joined across a line break (chunk.py) is quoted on one line
    return f"“{' '.join(best.text.split())}” [1]", [citation(1, best)]
