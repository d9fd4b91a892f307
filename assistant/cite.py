"""Citation parsing and verification: keep only answer sentences that their cited evidence supports.

An answer is split into sentences; each sentence owns the `[n]` markers inside or right after it. A sentence is
kept when all of these hold:
1. it cites at least one marker that points to an evidence sentence (markers out of range are dropped);
2. every number in it (folded: "14 000" = "14000", "2,71" = "2.71", "49%" -> "49") appears in the cited evidence;
3. every name in it (a capitalised word that is not the first word, nor a stop word) appears, accent- and
   case-folded, in the cited evidence, at least by its first five letters;
4. its embedding's cosine with the closest cited evidence sentence reaches `support_threshold` (multilingual, so an
   English sentence can be supported by a French one).
Everything else is removed. Markers are then renumbered 1..m in order of first use.

Rules 2 and 3 are strict on purpose: a translated name ("Scale AI" for "IA à l'échelle") fails them and the
sentence is dropped; the answer then falls back to quoting the evidence, which is always supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lang
from .chunk import split_sentences

__all__ = ["MARKER", "numbers", "names", "split_answer", "supported", "Verified", "verify", "with_markers"]

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_NUMBER = re.compile(r"\d+(?:[  .,]\d{3})*(?:[.,]\d+)?")
_NAME = re.compile(r"(?<![\w])[A-ZÀ-Ý][\w'’-]+")


def numbers(text: str) -> set[str]:
    """Numbers in `text`, normalised so that '14 000', '14.000' and '14000' agree, and '2,71' equals '2.71'."""
    out = set()
    for raw in _NUMBER.findall(text):
        compact = re.sub(r"[  ]", "", raw)
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+", compact):  # thousands separators
            compact = re.sub(r"[.,]", "", compact)
        out.add(compact.replace(",", "."))
    return out


def names(text: str) -> set[str]:
    """Capitalised words other than the first word, folded; stop words and markers excluded."""
    stop = lang.merged("stopwords")
    stripped = MARKER.sub(" ", text).strip()
    found = set()
    for m in _NAME.finditer(stripped):
        if m.start() == 0:
            continue
        word = lang.fold(m.group(0))
        if word not in stop and len(word) > 1:
            found.add(word)
    return found


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


def supported(sentence: str, evidence: list[str], similarity: float, threshold: float) -> bool:
    """Rules 2-4 of the module docstring for one answer sentence against the texts it cites."""
    if not evidence:
        return False
    joined = " ".join(evidence)
    if not numbers(sentence) <= numbers(joined):
        return False
    folded = lang.fold(joined)
    if any(name[:5] not in folded for name in names(sentence)):
        return False
    return similarity >= threshold


@dataclass
class Verified:
    text: str  # the kept sentences with renumbered markers; "" when nothing was kept
    cited: list[int]  # evidence numbers (1-based, as given to the model) in the order of the new markers
    dropped: list[str]  # removed sentences, for reports


def verify(answer: str, evidence_texts: list[str], language: str, embed, threshold: float) -> Verified:
    """Check `answer` against numbered `evidence_texts` ([1] is evidence_texts[0]). `embed(texts)` returns unit
    vectors for the answer sentences and the evidence, on the same side of the embedder."""
    parts = split_answer(answer.strip(), language)
    kept: list[tuple[str, list[int]]] = []
    dropped: list[str] = []
    candidates = [(s, [n for n in dict.fromkeys(c) if 1 <= n <= len(evidence_texts)]) for s, c in parts]
    to_embed = [s for s, c in candidates if c and s]
    if to_embed:
        vectors = embed(to_embed + evidence_texts)
        sent_vecs, ev_vecs = vectors[: len(to_embed)], vectors[len(to_embed):]
    row = 0
    for sentence, cited in candidates:
        if not (cited and sentence):
            if sentence:
                dropped.append(sentence)
            continue
        sims = [float(sent_vecs[row] @ ev_vecs[n - 1]) for n in cited]
        row += 1
        if supported(sentence, [evidence_texts[n - 1] for n in cited], max(sims), threshold):
            kept.append((sentence, cited))
        else:
            dropped.append(sentence)
    order: list[int] = []
    for _, cited in kept:
        for n in cited:
            if n not in order:
                order.append(n)
    renumber = {n: i + 1 for i, n in enumerate(order)}
    return Verified(" ".join(with_markers(s, [renumber[n] for n in cited]) for s, cited in kept), order, dropped)


def with_markers(sentence: str, numbers_: list[int]) -> str:
    """'Meta bought 49%.' + [1] -> 'Meta bought 49% [1].' (markers before the closing punctuation)."""
    marks = "".join(f"[{n}]" for n in numbers_)
    m = re.search(r"[.!?…]+[\"'»”’)]*$", sentence)
    return f"{sentence[: m.start()]} {marks}{sentence[m.start():]}" if m else f"{sentence} {marks}"

