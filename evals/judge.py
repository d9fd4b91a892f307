"""The support judge: does a premise (the text a citation points to) support a claim (one answer sentence, read as
the answer to its question when the question is known)?

ALCE's citation recall and precision (metrics.py) need this judgement; ALCE used an NLI model, which this machine
cannot download. The judge is offline, deterministic and multilingual, and deliberately not the rule the assistant
itself verifies with (assistant/cite.py), so that the eval does not grade the verifier with its own rule:

0. a question (a claim ending in "?") asserts nothing and is never supported;
1. numbers: every number in the claim, with its size ("405 billion" = "405 bilhões"; assistant/quantities.py), is a
   number of the premise or of the question; otherwise not supported, whatever else holds;
2. score = LEXICAL_WEIGHT * coverage + (1 - LEXICAL_WEIGHT) * similarity, where
   - coverage is the share of the claim's content words (accent- and case-folded, not a stop word of any table
     language, at least 4 letters) found in the premise: the same first 5 letters, or a premise word whose own
     embedding is within WORD_SIMILARITY of the claim word's ("Iran" ~ "Irão", "bought" ~ "acheté");
   - similarity is the cosine between the claim, after its question when there is one (a short answer, "Seoul",
     says something only as the answer to its question), and the premise's closest sentence (multilingual-e5,
     passage side), so an English claim can be supported by a Portuguese sentence;
3. supported when score >= THRESHOLD.

LEXICAL_WEIGHT and THRESHOLD were chosen by `calibrate` on the hand-labelled pairs in
`evals/gold/support_pairs.jsonl` for the best balanced accuracy (`python -m evals judge --calibrate` prints it,
in-sample and two-fold cross-validated). The judge reads meaning only as far as embeddings do: a claim that reuses the premise's words to
say something else (a negation, swapped roles: "Zuckerberg" as the executive Zuckerberg hired) can pass. Not here:
which sentences an answer has, or which premises each one cites (metrics.py does that).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from assistant import lang
from assistant.chunk import split_sentences
from assistant.quantities import quantities, same_size

__all__ = ["Judge", "Pair", "load_pairs", "calibrate", "accuracy", "balanced_accuracy", "LEXICAL_WEIGHT", "THRESHOLD"]

# `python -m evals judge --calibrate` on the 566 pairs of evals/gold/support_pairs.jsonl (2026-11-30): balanced
# accuracy 0.769 (recall 0.85 of supported pairs, 0.69 of unsupported ones rejected). The word-coverage signal adds
# nothing there, so it is off (weight 0), which also spares embedding every word.
LEXICAL_WEIGHT = 0.0
THRESHOLD = 0.88
WORD_SIMILARITY = 0.88

_MARKERS = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_GROUPED = re.compile(r"\b\d{1,3}(?:[  ]\d{3})+\b")  # "14 000"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_]{4,}")


def claim_numbers(text: str) -> set[str]:
    """'14 000' -> '14000', '2,71' -> '2.71', 'US$ 10 bilhões' -> '10'; a trailing separator is not part of it."""
    out = set()
    text = _GROUPED.sub(lambda m: re.sub(r"[  ]", "", m.group(0)), text)
    for number in _NUMBER.findall(text):
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+", number):  # thousands separators
            number = re.sub(r"[.,]", "", number)
        out.add(number.replace(",", "."))
    return out


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    return frozenset(lang.fold(w) for code in lang.LANGUAGES for w in lang.table(code)["stopwords"])


def content_words(text: str) -> set[str]:
    stop = _stop_words()
    return {w[:5] for w in _WORD.findall(lang.fold(text)) if w not in stop}


def _words(text: str) -> list[str]:
    """The content words of `text`, folded, whole (for their embeddings)."""
    stop = _stop_words()
    return list(dict.fromkeys(w for w in _WORD.findall(lang.fold(text)) if w not in stop))


def coverage(claim: str, premise: str) -> float:
    words = content_words(claim)
    if not words:
        return 0.0
    return len(words & content_words(premise)) / len(words)


def _clean(claim: str) -> str:
    return " ".join(_MARKERS.sub(" ", claim).strip().strip("“”\"«»").split())


@dataclass
class Pair:
    id: str
    lang: str  # the claim's language
    claim: str
    premise: str
    label: bool  # hand label: does the premise support the claim (as the answer to `question`, when given)?
    origin: str = ""  # where the claim came from: "draft" (the model's unverified text) or "answer"
    question: str = ""
    corpus: str = ""  # "outside" for premises from ../shared/outside (the verifier needs that corpus's index)


def load_pairs(path: str | Path) -> list[Pair]:
    pairs = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            pairs.append(Pair(row["id"], row["lang"], row["claim"], row["premise"], bool(row["label"]),
                              row.get("origin", ""), row.get("question", ""), row.get("corpus", "")))
    return pairs


class Judge:
    """`judge.supports(claim, premise, question="")` -> bool; `judge.score(...)` -> (numbers_ok, score).

    `embed(texts) -> unit vectors` is the embedder's passage side; vectors are cached per text, so judging an eval
    run embeds each sentence and word once."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], lexical_weight: float = LEXICAL_WEIGHT,
                 threshold: float = THRESHOLD, word_similarity: float = WORD_SIMILARITY) -> None:
        self._embed = embed
        self.lexical_weight = lexical_weight
        self.threshold = threshold
        self.word_similarity = word_similarity
        self._cache: dict[str, np.ndarray] = {}

    def tuned(self, lexical_weight: float, threshold: float) -> "Judge":
        """The same judge with other constants, sharing the embedding cache (calibration, cross-validation)."""
        other = Judge(self._embed, lexical_weight, threshold, self.word_similarity)
        other._cache = self._cache
        return other

    @classmethod
    def from_assistant(cls, assistant, **kwargs) -> "Judge":
        return cls(lambda texts: assistant.embedder.embed(texts, "passage"), **kwargs)

    def _vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for t, v in zip(missing, self._embed(missing)):
                self._cache[t] = np.asarray(v, dtype=np.float32)
        return [self._cache[t] for t in texts]

    def _coverage(self, claim: str, premise: str) -> float:
        words = [w for w in _words(claim) if len(w) >= 4]
        if not words:
            return 0.0
        held = [w for w in _words(premise) if len(w) >= 3]
        heads = {w[:5] for w in held}
        missing = [w for w in words if w[:5] not in heads]
        found = len(words) - len(missing)
        if missing and held:
            vectors = self._vectors(missing + held)
            claim_m, premise_m = np.stack(vectors[:len(missing)]), np.stack(vectors[len(missing):])
            found += int(((claim_m @ premise_m.T).max(axis=1) >= self.word_similarity).sum())
        return found / len(words)

    def parts(self, claim: str, premise: str, question: str = "",
              coverage: bool = True) -> tuple[bool, float, float]:
        """(numbers covered, lexical coverage (0 without `coverage`), best sentence cosine)."""
        claim = _clean(claim)
        if not claim or not premise.strip() or claim.endswith("?"):
            return False, 0.0, 0.0
        claim_lang, premise_lang = lang.detect_language(claim), lang.detect_language(premise)
        allowed = quantities(premise, premise_lang, words=True) + quantities(question, lang.detect_language(question))
        numbers_ok = all(any(same_size(v, a) for a in allowed) for v in quantities(claim, claim_lang))
        sentences = [premise[s:e] for s, e in split_sentences(premise, 0, len(premise), premise_lang)]
        read = f"{question} {claim}" if question else claim
        vectors = self._vectors([read] + (sentences or [premise]))
        similarity = max(float(vectors[0] @ v) for v in vectors[1:])
        return numbers_ok, self._coverage(claim, premise) if coverage else 0.0, similarity

    def score(self, claim: str, premise: str, question: str = "") -> tuple[bool, float]:
        numbers_ok, cov, sim = self.parts(claim, premise, question, coverage=self.lexical_weight > 0)
        return numbers_ok, self.lexical_weight * cov + (1 - self.lexical_weight) * sim

    def supports(self, claim: str, premise: str, question: str = "") -> bool:
        numbers_ok, score = self.score(claim, premise, question)
        return numbers_ok and score >= self.threshold


def accuracy(judge: Judge, pairs: Sequence[Pair]) -> float:
    return (sum(judge.supports(p.claim, p.premise, p.question) == p.label for p in pairs) / len(pairs)
            if pairs else 0.0)


_WEIGHTS = tuple(round(w * 0.1, 1) for w in range(11))
_THRESHOLDS = tuple(round(0.5 + t * 0.01, 2) for t in range(46))


def balanced_accuracy(verdicts: Sequence[bool], labels: Sequence[bool]) -> float:
    """The mean of the share of supported pairs judged supported and of unsupported pairs judged unsupported."""
    pos = [v for v, label in zip(verdicts, labels) if label]
    neg = [not v for v, label in zip(verdicts, labels) if not label]
    return (sum(pos) / len(pos) if pos else 1.0) / 2 + (sum(neg) / len(neg) if neg else 1.0) / 2


def calibrate(judge: Judge, pairs: Sequence[Pair]) -> tuple[float, float, float]:
    """The (lexical_weight, threshold) with the best balanced accuracy on `pairs`, and that balanced accuracy. Balanced,
    not plain: a quarter of the labelled pairs are supported, while most answers the judge grades are, so a judge
    tuned for plain accuracy rejects too much (on these pairs: recall 0.42) and grades answers far below what they
    are. Ties go to the weight nearest 0.5 (both signals count alike unless the pairs say otherwise), then the lowest
    threshold."""
    parts = [(p.label, *judge.parts(p.claim, p.premise, p.question)) for p in pairs]
    labels = [label for label, *_ in parts]
    best = (-1.0, 0.0, 0.0)
    for w in sorted(_WEIGHTS, key=lambda w: (abs(w - 0.5), w)):
        scores = [(ok, w * cov + (1 - w) * sim) for _, ok, cov, sim in parts]
        for t in _THRESHOLDS:
            score = balanced_accuracy([ok and s >= t for ok, s in scores], labels)
            if score > best[0]:
                best = (score, w, t)
    return best[1], best[2], best[0]


def candidate_pairs(report: dict, language_of=lambda text: lang.detect_language(text)) -> list[dict]:
    """Unlabelled (claim, premise) pairs from a saved eval report, for hand-labelling: each sentence of the model's
    draft against the evidence it cites (or evidence [1] when it cites none in range), and each sentence of the final
    answer against its citation and against the next evidence sentence it did not cite. A draft sentence without a
    marker in range is paired with the evidence sentence that shares most of its content words (what it most
    plausibly restates)."""
    from assistant.cite import split_answer

    out = []
    for r in report["records"]:
        evidence = r.get("evidence") or []
        if not evidence:
            continue
        for i, (claim, cited) in enumerate(split_answer(r.get("draft") or "", r["lang"])):
            if len(claim.split()) < 3:
                continue
            numbers = [n for n in cited if 1 <= n <= len(evidence)] or [
                1 + max(range(len(evidence)), key=lambda j: (coverage(claim, evidence[j]), -j))]
            out.append({"id": f"{r['id']}-d{i}", "lang": language_of(claim), "claim": claim,
                        "premise": " ".join(evidence[n - 1] for n in numbers), "origin": "draft",
                        "question": r["question"]})
        if r.get("refused"):
            continue
        for i, (claim, cited) in enumerate(split_answer(r["answer"], r["lang"])):
            texts = [c["text"] for c in r["citations"] if c["number"] in cited]
            if texts:
                out.append({"id": f"{r['id']}-a{i}", "lang": language_of(claim), "claim": claim,
                            "premise": " ".join(texts), "origin": "answer"})
            other = next((e for e in evidence if e not in texts), None)
            if other:
                out.append({"id": f"{r['id']}-a{i}x", "lang": language_of(claim), "claim": claim, "premise": other,
                            "origin": "answer, uncited evidence"})
    return out
