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


def test_answer_normalisation_and_str_em():
    from evals.metrics import normalise, str_em

    assert normalise("“Les 405 Milliards!” [1]", "fr") == "405 milliards"
    assert normalise("O Llama 3.1 tem 405 bilhões.", "pt") == "llama 3 1 tem 405 bilhoes"
    assert str_em("Meta bought 49 % of it [1].", ["49 %"], "en")
    assert str_em("acheté 49% d'IA", ["49%"], "fr")
    assert not str_em("acheté 149% d'IA", ["49%"], "fr")  # word boundaries
    assert not str_em("The articles don't say.", ["Behemoth"], "en")
    assert not str_em("", ["x"], "en") and not str_em("x", [""], "en")


def test_token_f1_by_hand():
    from evals.metrics import token_f1

    # answer tokens: meta bought 49 of scale ai (6); alias "49%" -> [49]: P=1/6, R=1 -> F1=2/7
    assert token_f1("Meta bought 49% of Scale AI [1].", ["49%"], "en") == pytest.approx(2 / 7)
    # best alias wins: "Scale AI" -> P=2/6, R=1 -> 0.5
    assert token_f1("Meta bought 49% of Scale AI [1].", ["49%", "the Scale AI"], "en") == pytest.approx(0.5)
    assert token_f1("", ["49%"], "en") == 0.0


def test_citation_has_evidence_uses_the_passage_holding_the_sentence():
    from assistant.answer import Citation
    from evals.metrics import citation_has_evidence

    passages = [P("a.txt", "Meta comprou 49% da Scale. O CEO saiu."), P("b.txt", "Outra coisa.")]
    inside = Citation(1, "a.txt", "t", "Meta comprou 49% da Scale.", 0, 26, 0.1)
    elsewhere = Citation(1, "b.txt", "t", "Outra coisa.", 0, 12, 0.1)
    assert citation_has_evidence(inside, passages, "comprou 49%  da Scale")
    assert not citation_has_evidence(elsewhere, passages, "comprou 49% da Scale")
    assert not citation_has_evidence(inside, [], "comprou 49% da Scale")
