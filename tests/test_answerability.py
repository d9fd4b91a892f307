"""The answerability model: its features on known inputs, its probability by hand, and the shipped fit."""

import math
from types import SimpleNamespace as S

import pytest

from assistant import answerability
from assistant.answerability import FEATURES, Model, Reply, Signals, asks_for_number, signals


@pytest.mark.parametrize("question,expected", [
    ("How many parameters does Llama 3.1 have?", True),
    ("Quantos funcionários tem a equipa?", True),
    ("Combien Meta a-t-elle payé ?", True),
    ("Quelle part de Scale AI Meta a-t-elle achetée ?", True),
    ("Who did Meta hire?", False),
    ("Quem é o executivo da Scale AI?", False),
    ("Quantidade de quê?", False),  # a word that begins like "quanto" is not one
])
def test_questions_that_ask_for_a_number(question, expected):
    assert asks_for_number(question) is expected


def ev(text, language="pt", support=0.1):
    return S(text=text, language=language, support=support)


def test_signals_by_hand():
    evidence = [ev("A Meta comprou 49% da Scale AI.", support=0.12), ev("Outra frase.", support=0.05)]
    found = signals("What share of Scale AI did Meta buy?", "en", evidence,
                    Reply("49% [1].", [1], True, 0.01, [0.5, 1.0, 0.25]), idf={"scale": 2.0, "meta": 0.5, "share": 1.0, "buy": 1.0},
                    groups={"scale": {"scale"}, "meta": {"meta"}, "share": {"share"}, "buy": {"buy", "compro"}})
    assert found.log_p_none == pytest.approx(-2.0)
    assert found.mean_logprob == pytest.approx((math.log(0.5) + 0 + math.log(0.25)) / 3)
    assert found.min_logprob == pytest.approx(math.log(0.25))
    assert (found.copied, found.verified, found.cross_lingual) == (1.0, 1.0, 1.0)
    assert found.support == pytest.approx(0.12) and found.support_gap == pytest.approx(0.07)
    # "scale", "meta" and "buy" (through "compro") are in the sentence, "share" is not: (2 + 0.5 + 1) / 4.5
    assert found.coverage == pytest.approx(3.5 / 4.5)
    assert found.number_missing == 0.0
    missing = signals("How many people work there?", "en", evidence, Reply("the team [1].", [], False, None, []), {},
                      {})
    assert missing.number_missing == 1.0 and missing.verified == 0.0 and missing.log_p_none == pytest.approx(-6.0)


def test_probability_by_hand_and_a_stale_file_is_refused():
    n = len(FEATURES)
    model = Model((1.0,) + (0.0,) * (n - 1), (0.5,) * n, (2.0,) * n, -1.0, 0.5, "by hand")
    found = Signals(*([2.5] + [0.0] * (n - 1)))  # (2.5 - 0.5) / 2 = 1, plus the intercept -1: sigmoid(0)
    assert model.probability(found) == pytest.approx(0.5)
    assert Model.from_dict(model.to_dict()) == model
    with pytest.raises(ValueError, match="fit it again"):
        Model.from_dict({**model.to_dict(), "features": ["something else"]})


def test_the_shipped_model_loads_and_names_where_it_was_fitted():
    shipped = answerability.model()
    assert len(shipped.weights) == len(FEATURES) and 0.0 <= shipped.threshold <= 1.0
    assert "train" in shipped.chosen
