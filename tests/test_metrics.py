"""Known-answer tests: every figure below is computed by hand."""

import pytest

from assistant.chunk import Passage
from evals.metrics import mrr, recall_at, retrieval_rank, retrieval_summary


def P(source, text):
    return Passage(source, "t", "pt", text, 0, len(text))


def test_rank_needs_the_right_article_and_the_whole_evidence():
    passages = [P("b.txt", "Llama 3.1 com 405 bilhões"), P("a.txt", "Llama 3.1 com\n 405   bilhões de parâmetros")]
    assert retrieval_rank(passages, "a.txt", "com 405 bilhões de parâmetros") == 2
    assert retrieval_rank(passages, "b.txt", "com 405 bilhões de parâmetros") is None
    assert retrieval_rank([], "a.txt", "x") is None


def test_recall_and_mrr_by_hand():
    ranks = [1, 3, None, 2]
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 3) == 0.75
    assert recall_at(ranks, 5) == 0.75
    assert mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert recall_at([], 3) == 0.0 and mrr([]) == 0.0


def test_summary_groups_by_language():
    s = retrieval_summary([("en", 1), ("pt", None), ("en", 4)])
    assert s["all"]["n"] == 3 and s["all"]["recall@3"] == pytest.approx(1 / 3)
    assert s["en"]["recall@5"] == 1.0 and s["en"]["mrr"] == pytest.approx((1 + 0.25) / 2)
    assert s["pt"]["mrr"] == 0.0
