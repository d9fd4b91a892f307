"""Hybrid retrieval: dense vectors and BM25, fused.

- Dense. The question is embedded on the query side and compared (cosine) with every passage and with every
  sentence. Two corrections make this work across languages and for short facts:
  1. Language centring: multilingual E5 scores any text in the question's own language higher than a text in
     another language that says the same thing. Subtracting, per article language, the question's similarity to that
     language's centroid (`q·(p - mean_L)`) removes most of that bias, so a Portuguese question can find a French
     sentence.
  2. Sentence pooling: a passage's dense score is `(1 - passage_weight) * z(best sentence) + passage_weight *
     z(whole passage)`, with z the standard score over all passages: a one-sentence fact is not diluted by its
     neighbours, and the passage still carries context. Passage vectors pooled from their sentences' (config
     passage_vectors = "sentences") carry no context of their own: they get `pooled_passage_weight` (0) instead.
- BM25 (Okapi, k1=1.5, b=0.75) over analysed tokens: case and accents folded, the stop words of every table
  language removed (a question and its passage are often in different languages), and each word cut to its first
  `_STEM` characters, a crude stemmer that also matches cognates ("parameters", "parâmetros", "paramètres" ->
  "parame"); numbers and names match as they are.
- Cross-lingual term expansion (`term_expansion` > 0). The index embeds each corpus word once (`Index.words`,
  passage side; past config `term_vocabulary` words, only those the most articles use). Each content word of the
  question is embedded on the query side, and its `term_expansion` nearest corpus words at cosine >=
  `term_similarity` join the BM25 query: "bought" brings "acheté" and "adquiriu", "training" brings "treinar",
  "companies" brings "entreprises" and "empresas". Without it BM25 matches only cognates, names and numbers across
  languages. A word costs about 9 ms to embed alone, so neighbours are cached per word. Word embeddings are blunt
  (hub words such as "startup" sit near everything), hence the high similarity floor.
- Fusion, `fusion = "zscore"` (default): dense + bm25_weight * max(0, z(BM25) - bm25_threshold). Between
  languages BM25 is mostly noise, and plain fusion of it lowered recall on the dev set (README); gated this way, it
  only speaks when one passage stands out lexically, by a rare name or number the question shares with it.
  `fusion = "rrf"`: reciprocal-rank fusion, 1/(rrf_k + dense rank) + bm25_weight/(rrf_k + BM25 rank), kept for
  comparison.

By default (`candidates` = 0) dense scores are computed for every passage and sentence (an exact scan, in FAISS's
inner-product kernel, or by the Postgres server with store = "postgres"; docs/scale.md has the costs). With `candidates` = n, dense retrieval works on candidates instead: the store's n nearest
sentences and n nearest passages by centred score (the best of 4n the store finds, from HNSW graphs on large
parts: `Retriever.near`), the n passages BM25 speaks for most, and a
fixed sample of `SAMPLE_PASSAGES` evenly spaced passages, whose scores give the z-scores' mean and spread; those
passages are scored exactly (their sentences and themselves, by row) and every other passage is left out. On a
corpus of at most `SAMPLE_PASSAGES` passages that is every passage, and the ranking is the exact one. The `score` of
a returned passage is the fused score (hybrid), the dense score (dense) or the raw BM25 score (bm25). Not here:
answer-level evidence selection, which uses `sentence_scores` of the retrieved passages' sentences.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import cached_property, lru_cache

import numpy as np

from .bm25 import BM25, analyze, bm25_docs, vocabulary
from .chunk import Passage
from .config import NEIGHBOURS_KEPT
from .embed import Embedder
from .table import languages_of

__all__ = ["Retriever", "row_languages", "language_centroids"]

# passages scored for the z-scores' mean and spread when retrieval works on candidates: the spread of 1,024 values is
# known within about 2%; their sentences cost the engine about 5,000 rows read by id
SAMPLE_PASSAGES = 1024
# retrieval on candidates asks a store for WIDEN x `candidates` rows and keeps the `candidates` best once centred
# (`Retriever.near`): 4 kept the exact ranking's top five where 1 lost some (docs/scale.md)
WIDEN = 4
_NEIGHBOUR_CACHE = 20_000  # question words remembered (a few hundred bytes each), then the cache starts over


def row_languages(index) -> tuple[np.ndarray, np.ndarray]:
    """The language of each passage row and of each sentence row of an index (its article's)."""
    p_lang = languages_of(index.passages)
    s_lang = np.empty(len(index.sentence_row), dtype=p_lang.dtype)
    # a sentence's rows in sentence_rows belong to passages of its own article: any of them gives its language
    s_lang[index.sentence_rows] = np.repeat(p_lang, np.diff(index.sentence_offsets))
    return p_lang, s_lang


def language_centroids(store, langs: np.ndarray) -> dict[str, np.ndarray]:
    """The mean vector of each language's rows of `store`, for language centring (computed by the store: an
    engine's rows are not read back)."""
    return {code: store.mean(langs == code) for code in sorted(set(langs.tolist()))}


def _z(x: np.ndarray, sample: np.ndarray | None = None) -> np.ndarray:
    """Standard scores of `x`, by the mean and spread of `sample` (of `x` itself by default)."""
    sample = x if sample is None else sample
    std = float(sample.std())
    return (x - sample.mean()) / std if std > 1e-9 else np.zeros_like(x)


class Retriever:
    """Ranks the passages of one index for a question."""

    def __init__(self, index, embedder: Embedder, config) -> None:
        self.index = index
        self.passages: list[Passage] = index.passages
        self.embedder = embedder
        # ask() scores passages and then sentences for the same question: embed it once.
        self.embed_query = lru_cache(maxsize=32)(embedder.embed_query)
        # word -> its nearest corpus words (ids, cosines), best first; shared by with_config views. A word costs
        # about as much to embed as a short question, and questions repeat words ("model", "Zuckerberg").
        self._neighbours: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # rows of words that no article uses any more (an index keeps them in their rows for a while): not neighbours
        used = index.word_articles
        self._dead_words = np.flatnonzero(np.asarray(used) == 0) if used is not None else np.zeros(0, np.int64)
        self.config = config
        self._bm25 = index.bm25 if index.bm25 is not None else BM25.build(bm25_docs(self.passages))
        self.p_lang, self.s_lang = row_languages(index)
        # per-language centroids of passage and sentence vectors, for language centring: saved with the index (a
        # load need not compute them), else computed
        saved = index.centroids or {}
        self.p_centroid = saved.get("passages") or language_centroids(index.store, self.p_lang)
        self.s_centroid = saved.get("sentences") or language_centroids(index.sentence_store, self.s_lang)

    def forget_words(self) -> None:
        """Empty the cache of question words' neighbours (a benchmark timing questions with new words)."""
        self._neighbours.clear()

    def sentence_vectors(self, rows: list[int]) -> np.ndarray:
        """The index's vectors of these sentence rows (passage side), as embedded when the index was built."""
        return self.index.sentence_store.rows(rows)

    def with_config(self, config) -> "Retriever":
        """This retriever (index, BM25, centroids, query cache shared) scoring with another config's settings."""
        view = copy.copy(self)
        view.config = config
        return view

    @staticmethod
    def centred(sims: np.ndarray, query: np.ndarray, langs: np.ndarray, centroids: dict) -> np.ndarray:
        out = sims.copy()
        for code, centroid in centroids.items():
            out[langs == code] -= float(centroid @ query)
        return out

    def sentence_scores(self, question: str, query: np.ndarray | None = None, rows=None) -> np.ndarray:
        """Language-centred cosine of the question with every sentence row of the index, or with the given rows
        (in their order)."""
        query = self.embed_query(question) if query is None else query
        store = self.index.sentence_store
        if rows is None:
            return self.centred(store.similarities(query), query, self.s_lang, self.s_centroid)
        rows = np.asarray(rows, dtype=np.int64)
        return self.centred(store.similarities_of(query, rows), query, self.s_lang[rows], self.s_centroid)

    @property
    def passage_weight(self) -> float:
        """The whole passage's share of its dense score: `passage_weight` when passage vectors are embedded,
        `pooled_passage_weight` when they are pooled from their sentences' (config.py)."""
        pooled = self.config.passage_vectors == "sentences"
        return self.config.pooled_passage_weight if pooled else self.config.passage_weight

    def dense_scores(self, question: str, include=()) -> np.ndarray:
        """The dense score of every passage; with `candidates`, of the candidates, `include` and the sample, and
        minus infinity for the others."""
        if not self.passages:
            return np.zeros(0, dtype=np.float32)
        query = self.embed_query(question)
        w = self.passage_weight
        if self.config.candidates <= 0:
            sentences = self.sentence_scores(question, query)
            # each passage's best sentence (every passage has one; its rows are contiguous in sentence_rows)
            best = np.maximum.reduceat(sentences[self.index.sentence_rows], self.index.sentence_offsets[:-1]).astype(
                np.float32)
            if w == 0:  # the passages' own vectors would not count: not scored
                return _z(best)
            whole = self.centred(self.index.store.similarities(query), query, self.p_lang, self.p_centroid)
            return (1 - w) * _z(best) + w * _z(whole)
        near_sentences = self.near(self.index.sentence_store, query, self.s_lang, self.s_centroid)
        near_passages = self.near(self.index.store, query, self.p_lang, self.p_centroid)
        rows = np.unique(np.concatenate([self.sample, near_passages, self._holding(near_sentences),
                                         np.asarray(include, dtype=np.int64)]))
        best, whole = self._pooled(query, rows)
        in_sample = np.searchsorted(rows, self.sample)
        scores = np.full(len(self.passages), -np.inf, dtype=np.float32)
        scores[rows] = (1 - w) * _z(best, best[in_sample]) + w * _z(whole, whole[in_sample])
        return scores

    def near(self, store, query: np.ndarray, langs: np.ndarray, centroids: dict) -> np.ndarray:
        """About the `candidates` rows of `store` with the best language-centred cosine: the best, centred, of the
        WIDEN x n rows the store finds. The store ranks by plain cosine, which favours a language whose centroid is
        nearer the question by as much as centring takes away (on ../shared/outside a question's two centroid terms
        differ by 0.034, median, as much as its ten best sentences spread): its n best rows could lack the other
        language's best."""
        n = self.config.candidates
        ids, sims = store.candidates(query, n * WIDEN)
        centred = self.centred(sims, query, langs[ids], centroids)
        return ids[np.argsort(-centred, kind="stable")[:n]]

    def _lexical_candidates(self, lexical: np.ndarray) -> np.ndarray:
        """The passages BM25 speaks for (a positive gated score), at most `candidates` of them, best first: a
        name shared by thousands of passages would otherwise have every one of them scored."""
        n = self.config.candidates
        speaking = np.flatnonzero(lexical > 0)
        if n <= 0 or len(speaking) <= n:
            return speaking
        return speaking[np.argsort(-lexical[speaking], kind="stable")[:n]]

    @cached_property
    def sample(self) -> np.ndarray:
        """`SAMPLE_PASSAGES` passage rows evenly spaced over the index (every row of a smaller one)."""
        n = len(self.passages)
        return np.unique(np.linspace(0, n - 1, min(n, SAMPLE_PASSAGES)).round().astype(np.int64))

    @cached_property
    def _owners(self) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows in ascending order, each with a passage that holds it (a sentence in two overlapping
        passages appears twice)."""
        owner = np.repeat(np.arange(len(self.passages), dtype=np.int64), np.diff(self.index.sentence_offsets))
        order = np.argsort(self.index.sentence_rows, kind="stable")
        return np.asarray(self.index.sentence_rows)[order], owner[order]

    def _holding(self, sentence_rows: np.ndarray) -> np.ndarray:
        """The passage rows that hold any of these sentence rows."""
        rows, owners = self._owners
        lo, hi = np.searchsorted(rows, sentence_rows, "left"), np.searchsorted(rows, sentence_rows, "right")
        return np.concatenate([owners[a:b] for a, b in zip(lo.tolist(), hi.tolist())] + [np.zeros(0, np.int64)])

    def _pooled(self, query: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For these passage rows: the centred score of each one's best sentence, and of the passage itself."""
        offsets = self.index.sentence_offsets
        lengths = offsets[rows + 1] - offsets[rows]
        starts = np.cumsum(lengths) - lengths  # where each passage's sentences begin in the gathered list
        gathered = self.index.sentence_rows[np.repeat(offsets[rows] - starts, lengths) + np.arange(lengths.sum())]
        unique, back = np.unique(gathered, return_inverse=True)
        sentences = self.sentence_scores("", query, unique)[back]
        best = np.maximum.reduceat(sentences, starts).astype(np.float32)
        whole = self.centred(self.index.store.similarities_of(query, rows), query, self.p_lang[rows],
                              self.p_centroid)
        return best, whole

    def expansions(self, question: str) -> dict[str, list[str]]:
        """For each content word of the question, the corpus words that term expansion adds for it."""
        n, words = self.config.term_expansion, self.index.words
        asked = vocabulary(question)
        if n <= 0 or not words or not asked:
            return {}
        # read into a local dict: UI sessions share the cache across threads, and another may clear it meanwhile
        found = {w: self._neighbours.get(w) for w in asked}
        todo = [w for w, hit in found.items() if hit is None]
        if todo:
            if len(self._neighbours) > _NEIGHBOUR_CACHE:
                self._neighbours.clear()
            for word, hit in zip(todo, self.nearest_words(self.embedder.embed(todo, "query"))):
                found[word] = self._neighbours[word] = hit
        return {word: [words[j] for j, sim in zip(ids[:n], sims[:n]) if sim >= self.config.term_similarity]
                for word, (ids, sims) in found.items()}

    def nearest_words(self, vectors: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The NEIGHBOURS_KEPT nearest words in use of each vector (ids, cosines), best first: asked again for more
        while words no article uses took places (few: index.DEAD_WORDS)."""
        store, out = self.index.word_store, [None] * len(vectors)
        # from the graphs when asked for candidates (as the passages), else exactly
        ask = store.candidates_each if self.config.candidates > 0 else store.nearest
        todo, k = list(range(len(vectors))), NEIGHBOURS_KEPT * (2 if len(self._dead_words) else 1)
        while todo:
            k, again = min(k, len(store)), []
            for i, (ids, sims) in zip(todo, ask(vectors[todo], k)):
                live = ~np.isin(ids, self._dead_words)
                if live.sum() < NEIGHBOURS_KEPT and k < len(store):
                    again.append(i)
                out[i] = ids[live][:NEIGHBOURS_KEPT], sims[live][:NEIGHBOURS_KEPT]
            todo, k = again, 2 * k
        return out

    def term_groups(self, question: str) -> dict[str, set[str]]:
        """Each BM25 term of the question -> itself plus the stems of its word's cross-lingual neighbours:
        {"bought": {"bought", "achete", "adquir"}}. A text that holds any stem of a group uses that question word."""
        groups = {term: {term} for term in analyze(question)}
        for word, neighbours in self.expansions(question).items():
            for term in analyze(word)[:1]:
                groups.setdefault(term, {term}).update(s for n in neighbours for s in analyze(n))
        return groups

    def query_terms(self, question: str) -> dict[str, float]:
        """The BM25 query: the question's own terms, plus the stems of their cross-lingual neighbours."""
        return {term: 1.0 for group in self.term_groups(question).values() for term in sorted(group)}

    @cached_property
    def languages(self) -> frozenset[str]:
        """The languages the indexed passages are written in."""
        return frozenset(languages_of(self.passages).tolist())  # from the columns: no passage is parsed

    @property
    def idf(self) -> dict[str, float]:
        """Each indexed term's BM25 inverse document frequency (evidence ranking weighs question words by it)."""
        return self._bm25.idf

    def bm25_scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage for `question` (with term expansion)."""
        return self._bm25.scores(self.query_terms(question))

    def search(self, question: str, k: int, mode: str = "hybrid") -> list[Passage]:
        """The k best passages for `question` by `mode` (hybrid, dense or bm25), best first, with their scores."""
        cfg = self.config
        if mode == "dense":
            scores = self.dense_scores(question)
        elif mode == "bm25":
            scores = self.bm25_scores(question)
        elif cfg.fusion == "rrf":
            scores = np.zeros(len(self.passages), dtype=np.float32)
            bm25 = self.bm25_scores(question)
            dense = self.dense_scores(question)
            for weight, ranking in ((1.0, [i for i in np.argsort(-dense, kind="stable") if dense[i] > -np.inf]),
                                    (cfg.bm25_weight, [i for i in np.argsort(-bm25, kind="stable") if bm25[i] > 0])):
                for rank, i in enumerate(ranking, start=1):
                    scores[i] += weight / (cfg.rrf_k + rank)
        else:
            lexical = np.maximum(_z(self.bm25_scores(question)) - cfg.bm25_threshold, 0.0)
            scores = self.dense_scores(question, include=self._lexical_candidates(lexical)) + cfg.bm25_weight * lexical
        order = np.argsort(-scores, kind="stable")[:k]
        if mode == "bm25":
            order = [i for i in order if scores[i] > 0]
        order = [i for i in order if scores[i] > -np.inf]  # a passage left out by retrieval on candidates
        return [replace(self.passages[i], score=float(scores[i])) for i in order]
