"""Known-answer tests: every figure below is computed by hand."""

import pytest

from assistant.chunk import Passage
from types import SimpleNamespace as S

from evals.metrics import evidence_rank, mrr, recall_at, retrieval_rank, retrieval_summary


def P(source, text):
    return Passage(source, "t", "pt", text, 0, len(text))


def test_rank_needs_the_right_article_and_the_whole_evidence():
    passages = [P("b.txt", "Llama 3.1 com 405 bilhões"), P("a.txt", "Llama 3.1 com\n 405   bilhões de parâmetros")]
    assert retrieval_rank(passages, "a.txt", "com 405 bilhões de parâmetros") == 2
    assert retrieval_rank(passages, "b.txt", "com 405 bilhões de parâmetros") is None
    assert retrieval_rank([], "a.txt", "x") is None


def test_evidence_rank_is_the_first_sentence_overlapping_the_gold_span():
    article = "Meta comprou 49%.\nA Scale AI\n  custou 14 mil milhões. Fim."
    # sentences at 0-17, 18-53 (across a line break and indentation) and 54-58
    first, second, third = S(source="a.txt", start=0, end=17), S(source="a.txt", start=18, end=53), \
        S(source="a.txt", start=54, end=58)
    assert evidence_rank([first, second, third], article, "a.txt", "Scale AI custou 14") == 2
    assert evidence_rank([third, second], article, "a.txt", "Scale AI custou 14") == 2
    # a gold span across two sentences: the first one of them in the ranking counts
    assert evidence_rank([third, second, first], article, "a.txt", "49%. A Scale") == 2
    # the same offsets in another article, a span that is not in the article, no sentences
    assert evidence_rank([S(source="b.txt", start=18, end=53)], article, "a.txt", "Scale AI custou 14") is None
    assert evidence_rank([second], article, "a.txt", "custou 15") is None
    assert evidence_rank([], article, "a.txt", "Scale AI") is None


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
    inside = Citation("a.txt", "t", "pt", "Meta comprou 49% da Scale.", 0, 26, number=1, score=0.1)
    elsewhere = Citation("b.txt", "t", "pt", "Outra coisa.", 0, 12, number=1, score=0.1)
    assert citation_has_evidence(inside, passages, "comprou 49%  da Scale")
    assert not citation_has_evidence(elsewhere, passages, "comprou 49% da Scale")
    assert not citation_has_evidence(inside, [], "comprou 49% da Scale")


# -- ALCE citation recall / precision, with a transparent fake judge ---------------------------------------------------
import re as _re

from evals.metrics import alce


def facts_judge(claim, premise):
    """Supported when every capitalised word and number of the claim is a word of the premise."""
    return all(tok in premise.split() for tok in _re.findall(r"\b[A-Z]\w*|\d+", claim))


SCALE = "Meta bought 49 of Scale"


def test_alce_one_supported_sentence_one_citation():
    assert alce(f"{SCALE} [1].", ["Meta paid for 49 of Scale"], facts_judge) == (1.0, 1.0)


def test_alce_out_of_range_citation_is_unsupported_and_imprecise():
    assert alce(f"{SCALE} [2].", ["Meta paid for 49 of Scale"], facts_judge) == (0.0, 0.0)
    # in range and out of range together: the sentence still fails (ALCE), both markers count
    assert alce(f"{SCALE} [1][3].", ["Meta paid for 49 of Scale"], facts_judge) == (0.0, 0.0)


def test_alce_redundant_citation_costs_precision_not_recall():
    premises = ["Meta paid for 49 of Scale", "Llama has 405 billion"]
    assert alce(f"{SCALE} [1][2].", premises, facts_judge) == (1.0, 0.5)


def test_alce_two_citations_each_needed_are_both_relevant():
    premises = ["Meta paid 49 percent", "of Scale"]
    assert alce(f"{SCALE} [1][2].", premises, facts_judge) == (1.0, 1.0)


def test_alce_mixed_sentences_by_hand():
    # sentence 1 supported by [1]; sentence 2 ("Llama 405") is not supported by [1]; no marker on sentence 3
    text = f"{SCALE} [1]. Llama has 405 parameters [1]. Zuckerberg agreed."
    recall, precision = alce(text, ["Meta paid for 49 of Scale"], facts_judge)
    assert recall == pytest.approx(1 / 3) and precision == pytest.approx(1 / 2)


def test_alce_empty_answer_and_refusal():
    assert alce("", ["Meta paid for 49 of Scale"], facts_judge) == (0.0, 0.0)
    assert alce("   ", [], facts_judge) == (0.0, 0.0)
    assert alce("The articles don't say.", [], facts_judge, refused=True) is None


def test_lenient_reads_an_answer_as_a_person_would():
    from evals.metrics import lenient

    gold = ["le petit constructeur italien Abarth"]
    assert lenient("Abarth [1].", gold, "fr")  # inside the gold answer
    assert lenient("Avec le petit constructeur italien Abarth, en 1960.", gold, "fr")  # contains it
    assert not lenient("Porsche [1].", gold, "fr")
    assert not lenient("le [1].", gold, "fr")  # inside, but only a stop word
    assert not lenient("", gold, "fr")
    # every content word of the alias, in another order or with other small words
    assert lenient("Tacite et Plutarque", ["Plutarque et Tacite"], "fr")
    assert lenient("Plutarque, Tacite [1].", ["Plutarque et Tacite"], "fr")
    assert lenient("Plutarque [2].", ["Plutarque et Tacite"], "fr")  # inside: a part of the answer counts


def test_gold_shown_locates_sentences_and_evidence_by_their_words():
    from evals.metrics import gold_shown

    article = "Título\n\nA Meta comprou 49% da Scale AI.  Pagou 14 mil milhões.\nO Llama 4 saiu em abril."
    assert gold_shown(["Pagou 14 mil milhões."], article, "Pagou 14\nmil milhões")
    assert gold_shown(["A Meta comprou 49% da Scale AI."], article, "49% da Scale AI. Pagou")  # overlaps
    assert not gold_shown(["O Llama 4 saiu em abril."], article, "Pagou 14 mil milhões.")
    assert not gold_shown(["Pagou 14 mil milhões."], article, "not in the article")
    assert not gold_shown([], article, "Pagou 14 mil milhões.")
