"""Lexical matching: the analysis of text into BM25 terms (folded, stop words of every table language dropped, words
cut to a 6-letter prefix, which also matches cognates: "parameters", "parâmetros", "paramètres"), the words the
index embeds for term expansion, and Okapi BM25 over postings."""

from __future__ import annotations

import math
import re
import zipfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from . import lang
from .chunk import Passage

__all__ = ["analyze", "vocabulary", "bm25_terms", "bm25_docs", "BM25"]

_STEM = 6
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")
_SURFACE_WORD = re.compile(r"[^\W\d_]{3,}")  # letters only, unfolded: what a word embedding is asked about


def analyze(text: str) -> list[str]:
    """BM25 terms of `text`: folded, stop words dropped, words cut to a prefix; numbers kept whole."""
    stop = lang.merged("stopwords")
    out = []
    for tok in _WORD.findall(lang.fold(text)):
        if tok in stop:
            continue
        out.append(tok if tok[0].isdigit() else tok[:_STEM])
    return out


def vocabulary(text: str) -> list[str]:
    """Distinct lower-cased content words of `text` (3+ letters, no stop word), in order of first appearance: the
    words the index embeds for term expansion."""
    stop = lang.merged("stopwords")
    seen: dict[str, None] = {}
    for word in _SURFACE_WORD.findall(text.lower()):
        if lang.fold(word) not in stop:
            seen.setdefault(word, None)
    return list(seen)


def bm25_terms(passage: Passage) -> list[str]:
    """What BM25 indexes of a passage: its article's title and its text, analysed."""
    return analyze(f"{passage.title} {passage.text}")


def bm25_docs(passages: Iterable[Passage]) -> Iterator[list[str]]:
    """`bm25_terms` of each passage, one passage at a time."""
    return map(bm25_terms, passages)


class BM25:
    """Okapi BM25, scored through postings: a query term touches only the documents that hold it (a loop over every
    document per term cost 167 ms a question at 9,000 articles).

    The postings are compressed sparse rows by term: the documents holding `terms[t]` are
    `doc_ids[indptr[t]:indptr[t + 1]]` (ascending), with their term frequencies in `tfs`; `lengths` are the documents'
    lengths in terms. The index saves them with the passages (`save`/`load`), and an update analyses only the new
    passages (`build` with a previous BM25): analysing every passage again took 5 s at 9,000 articles."""

    def __init__(self, terms: list[str], postings: tuple[np.ndarray, np.ndarray, np.ndarray], lengths: np.ndarray,
                 k1: float = 1.5, b: float = 0.75) -> None:
        """`postings`: (indptr, doc_ids, tfs), as the class docstring says."""
        indptr, doc_ids, tfs = postings
        self.k1, self.b = k1, b
        self.terms = list(terms)
        self._indptr = np.asarray(indptr, dtype=np.int64)
        self._ids = np.asarray(doc_ids, dtype=np.int32)
        self._tfs = np.asarray(tfs, dtype=np.int32)
        self.lengths = np.asarray(lengths, dtype=np.float32)
        if not (len(self._indptr) == len(self.terms) + 1 and self._indptr[0] == 0 and self._indptr[-1] == len(self._ids)
                == len(self._tfs) and (np.diff(self._indptr) > 0).all()
                and (len(self._ids) == 0 or 0 <= self._ids.min() and self._ids.max() < len(self.lengths))):
            raise ValueError("BM25 postings are inconsistent")
        self.n = len(self.lengths)
        avglen = float(self.lengths.mean()) if self.n else 0.0
        # each document's length normalisation, float32 as the scores are
        self._norm = self.k1 * (1 - self.b + self.b * self.lengths / avglen) if avglen > 0 else self.lengths
        self._term_id = {t: i for i, t in enumerate(self.terms)}
        self.idf = {t: math.log(1 + (self.n - df + 0.5) / (df + 0.5))
                    for t, df in zip(self.terms, np.diff(self._indptr).tolist())}

    @classmethod
    def build(cls, docs: Iterable[list[str] | int], previous: "BM25 | None" = None, **params) -> "BM25":
        """Postings of `docs`, each given as its analysed terms, or as the row of `previous` whose terms it has (an
        unchanged passage keeps its analysis). `docs` may be a generator: one document's terms are held at a time,
        and postings are gathered in typed arrays (Python lists of them peaked at 1 GB for 81,000 passages)."""
        term_id: dict[str, int] = {t: i for i, t in enumerate(previous.terms)} if previous is not None else {}
        terms = list(term_id)
        lengths = array("f")
        new_t, new_d, new_f = array("i"), array("i"), array("i")  # int32: 8.8 million postings at 10,000 articles
        moved = array("q")  # new row of each previous row taken, by pairs (previous row, new row)
        for row, doc in enumerate(docs):
            if isinstance(doc, int):
                moved.extend((doc, row))
                lengths.append(previous.lengths[doc])
                continue
            lengths.append(len(doc))
            for term, f in Counter(doc).items():
                if term not in term_id:
                    term_id[term] = len(terms)
                    terms.append(term)
                new_t.append(term_id[term])
                new_d.append(row)
                new_f.append(f)
        t, d, f = (np.frombuffer(a, dtype=np.int32) if len(a) else np.zeros(0, np.int32) for a in (new_t, new_d, new_f))
        pairs = np.frombuffer(moved, dtype=np.int64).reshape(-1, 2) if len(moved) else np.zeros((0, 2), np.int64)
        if previous is not None and len(pairs) == previous.n and (pairs == np.arange(previous.n)[:, None]).all():
            # the previous documents come first, in their order (an update that only adds): their postings are
            # already sorted, every term keeps a document, and a stable sort by term puts the new ones after them
            t = np.concatenate([np.repeat(np.arange(len(previous.terms)), np.diff(previous._indptr)), t])
            d, f = np.concatenate([previous._ids, d]), np.concatenate([previous._tfs, f])
            order = np.argsort(t, kind="stable")
            indptr = np.zeros(len(terms) + 1, dtype=np.int64)
            np.cumsum(np.bincount(t, minlength=len(terms)), out=indptr[1:])
            return cls(terms, (indptr, d[order], f[order]), np.frombuffer(lengths, dtype=np.float32), **params)
        if previous is not None and len(previous._ids):
            new_row = np.full(previous.n, -1, dtype=np.int32)
            new_row[pairs[:, 0]] = pairs[:, 1]
            old_t = np.repeat(np.arange(len(previous.terms)), np.diff(previous._indptr))
            old_d = new_row[previous._ids]
            keep = old_d >= 0
            t, d, f = (np.concatenate([old_t[keep], t]), np.concatenate([old_d[keep], d]),
                       np.concatenate([previous._tfs[keep], f]))
        counts = np.bincount(t, minlength=len(terms))
        used = np.flatnonzero(counts)  # terms no document holds any more drop out
        # by term, then document: the old postings come first and mostly in order already, which a stable sort
        # (timsort) merges in about linear time (np.unique and a two-key lexsort took 1 s at 10,000 articles)
        # (a first build's postings come in document order: by term alone, without the 8-byte key of each)
        order = np.argsort(t.astype(np.int64) * max(len(lengths), 1) + d, kind="stable") if previous is not None \
            else np.argsort(t, kind="stable")
        indptr = np.zeros(len(used) + 1, dtype=np.int64)
        np.cumsum(counts[used], out=indptr[1:])
        return cls([terms[i] for i in used.tolist()], (indptr, d[order], f[order]),
                   np.frombuffer(lengths, dtype=np.float32) if len(lengths) else np.zeros(0, np.float32), **params)

    def save(self, path) -> None:
        """Write the postings to `path` (numpy's .npz)."""
        with open(path, "wb") as fh:
            np.savez(fh, terms=np.array(self.terms, dtype=str), indptr=self._indptr, doc_ids=self._ids, tfs=self._tfs,
                     lengths=self.lengths)

    @classmethod
    def load(cls, path) -> "BM25":
        """ValueError (or OSError) when the file is not postings this class wrote."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["terms"].tolist(), (data["indptr"], data["doc_ids"], data["tfs"]), data["lengths"])
        except (zipfile.BadZipFile, EOFError, KeyError) as exc:
            raise ValueError(f"not BM25 postings ({exc})") from None

    def scores(self, query: list[str] | dict[str, float]) -> np.ndarray:
        """Scores of every document for a list of terms, or a {term: weight} dict (expanded queries)."""
        weights = query if isinstance(query, dict) else dict.fromkeys(query, 1.0)
        out = np.zeros(self.n, dtype=np.float32)
        for term, weight in weights.items():
            t = self._term_id.get(term)
            if t is None:
                continue
            lo, hi = self._indptr[t], self._indptr[t + 1]
            ids, tf = self._ids[lo:hi], self._tfs[lo:hi]
            # rounded as the per-document expression was: the numerator in float64, then float32 throughout
            numerator = (weight * self.idf[term] * tf * (self.k1 + 1)).astype(np.float32)
            out[ids] += numerator / (tf.astype(np.float32) + self._norm[ids])
        return out
