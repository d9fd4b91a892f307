"""Copying: an answer that repeats words of the sentence it cites becomes those words, exactly as written."""

import numpy as np
import pytest

from assistant.cite import Support, verify
from assistant.span import copied_span

SENTENCE = ("A crise do petróleo de 1973 começou quando os membros da Organização dos Países Exportadores de Petróleo "
            "Árabes (OAPEC, composta pelos membros árabes da OPEP) proclamaram um embargo.")


def words(answer, sentence=SENTENCE):
    span = copied_span(answer, sentence)
    return None if span is None else sentence[span[0]:span[1]]


@pytest.mark.parametrize("answer,expected,sentence", [
    # case, accents and the marker do not matter; the sentence's own spelling is what is kept
    ("Os membros da organizacao dos paises exportadores de petroleo arabes [1].",
     "os membros da Organização dos Países Exportadores de Petróleo Árabes", SENTENCE),
    # a bracket the answer opens and the sentence closes much later: the span ends before it
    ("membros da Organização dos Países Exportadores de Petróleo Árabes (OAPEC) [1].",
     "membros da Organização dos Países Exportadores de Petróleo Árabes", SENTENCE),
    # a word of the sentence left out (at most two between two copied words), and an ending changed
    ("crise do petróleo começou [1].", "crise do petróleo de 1973 começou", SENTENCE),
    ("um embargos", "um embargo", SENTENCE),
    # the signs that make a number a share or an amount are part of it
    ("49% [1].", "49%", "Zuckerberg a acheté 49% d'IA à l'échelle pour environ 14 000 millions de dollars."),
    ("US$ 414 milhões", "US$ 414 milhões", "O lucro subiu para US$ 414 milhões em 2023."),
])
def test_a_copy_becomes_the_sentence_s_own_words(answer, expected, sentence):
    assert words(answer, sentence) == expected


@pytest.mark.parametrize("answer", [
    "The 1973 oil crisis [1].",  # said in another language
    "os membros da OPEP proclamaram a guerra",  # a content word the sentence does not have ("guerra")
    "o [1].",  # nothing but a stop word
    "",
])
def test_what_is_not_a_copy_stays_the_reader_s(answer):
    assert words(answer) is None


def test_brackets_close_when_the_sentence_closes_them_right_after():
    sentence = "A rede pública operada pela PTT Telecom (agora KPN) foi a primeira."
    assert words("PTT Telecom (agora KPN", sentence) == "PTT Telecom (agora KPN)"


def _flat(texts):
    """Every text embedded alike: similarity plays no part in what these tests check."""
    return np.full((len(texts), 4), 0.5)


def test_verification_keeps_a_copy_with_its_offsets_and_cites_the_sentence_it_copies():
    evidence = [("Le siège du groupe se trouve à Lyon depuis 1998.", "fr"), (SENTENCE, "pt")]
    # cites [1], copies [2]: the answer cites [2], renumbered [1]
    out = verify("os membros da organização dos países exportadores de petróleo árabes [1].", evidence,
                 "Quem proclamou o embargo?", "pt", Support(_flat, 0.75, 0.85))
    assert out.text == "os membros da Organização dos Países Exportadores de Petróleo Árabes [1]."
    assert out.cited == [2]
    start, end = out.spans[2]
    assert SENTENCE[start:end] == "os membros da Organização dos Países Exportadores de Petróleo Árabes"


def test_a_copy_that_only_restates_the_question_is_dropped():
    evidence = [("Le siège du groupe se trouve à Lyon depuis 1998.", "fr")]
    out = verify("le siège du groupe [1].", evidence, "Où se trouve le siège du groupe ?", "fr",
                 Support(_flat, 0.75, 0.85))
    assert out.text == "" and out.dropped == [("le siège du groupe.", "restates the question")]
