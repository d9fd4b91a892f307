"""Citation verification, with known answers: what is kept, what is dropped and why, re-citation, renumbering."""

import numpy as np
import pytest

from assistant.cite import Support, names, signals, split_answer, verify, with_markers

EVIDENCE = [
    ("Dans ce cas, Zuckerberg a répondu comme d'habitude et acheté 49% d'IA à l'échelle pour environ 14 000 millions "
     "de dollars.", "fr"),
    ("Outre, il a signé son propre PDG, Alexandr Wang, pour sa propre équipe.", "fr"),
    ("Na semana passada, Mark Zuckerberg e Meta comemoraram o lançamento do modelo Llama 3.1 da Meta com 405 bilhões "
     "de parâmetros.", "pt"),
]
SCALE = "What share of Scale AI did Meta buy, and for how much?"


def fake_embed(texts):
    """Every text alike (cosine 1): these tests are about the other rules."""
    return np.ones((len(texts), 4), dtype=np.float32) / 2.0


def test_names():
    assert names("Meta hired Alexandr Wang [2].") == {"alexandr", "wang"}
    assert names("“Behemoth” [1].") == set()  # the first word is not taken for a name


def test_split_answer_attaches_markers():
    assert split_answer("It bought 49% [1]. It paid 14 000 million dollars. [1, 2] Nothing [9].", "en") == [
        ("It bought 49%.", [1]), ("It paid 14 000 million dollars.", [1, 2]), ("Nothing.", [9])]


@pytest.mark.parametrize("claim, reason", [
    ("Meta bought 49% for $14 billion.", None),  # 14 000 millions = 14 billion
    ("Meta bought 49% for 14 000 million dollars.", None),
    ("Meta bought 51%.", "number"),
    ("Meta paid $14 million.", "number"),  # a number that changed its size
    ("Meta bought 49% from Elon Musk.", "name"),  # a name the evidence does not hold
    ("Meta did buy a share of Scale AI.", "restates the question"),  # nothing the question does not already say
])
def test_rules_on_one_sentence(claim, reason):
    found = signals(claim, [EVIDENCE[0]], SCALE, "en", 0.9)
    assert found.reason(0.0, 0.8) == reason


def test_numbers_keep_their_size_across_languages():
    question = "Quantos parâmetros tem o Llama 3.1?"
    assert signals("405 bilhões.", [EVIDENCE[2]], question, "pt", 0.9).numbers
    assert signals("405 billion.", [EVIDENCE[2]], question, "en", 0.9).numbers
    assert signals("405 milliards.", [EVIDENCE[2]], question, "fr", 0.9).numbers
    assert not signals("405 mil.", [EVIDENCE[2]], question, "pt", 0.9).numbers  # 405 thousand
    assert not signals("405 billions.", [EVIDENCE[2]], question, "fr", 0.9).numbers  # French long scale: 405e12


def test_coverage_and_similarity_thresholds():
    found = signals("Zuckerberg bought 49%, a record.", [EVIDENCE[0]], SCALE, "en", 0.75)
    assert found.reason(0.0, 0.7) is None and found.reason(0.0, 0.8) == "meaning"
    assert 0 < found.coverage < 1 and found.reason(1.0, 0.7) == "words"
    # a cross-lingual neighbour counts as found: "bought" in a sentence that says "acheté"
    assert signals("Bought.", [EVIDENCE[0]], "Meta?", "en", 0.9, {"bought": {"achete"}}).coverage == 1.0


def test_out_of_range_uncited_and_unsupported_sentences_are_dropped_and_markers_renumbered():
    answer = ("Meta paid about 14 000 million dollars for 49% [1]. Zuckerberg hired Elon Musk [2]. "
              "Llama 3.1 has 405 billion parameters [3]. It was trained on 15 trillion tokens [7]. It rains in Lisbon.")
    result = verify(answer, EVIDENCE, "What did Meta do?", "en", Support(fake_embed, 0.5, 0.5))
    assert result.text == "Meta paid about 14 000 million dollars for 49% [1]. Llama 3.1 has 405 billion parameters [2]."
    assert result.cited == [1, 3]
    assert dict(result.dropped) == {"Zuckerberg hired Elon Musk.": "name",
                                    "It was trained on 15 trillion tokens.": "no citation",
                                    "It rains in Lisbon.": "no citation"}


def test_a_sentence_citing_the_wrong_evidence_or_none_cites_the_one_that_holds_it():
    for draft in ("Alexandr Wang [1].", "Alexandr Wang [7].", "Alexandr Wang."):
        result = verify(draft, EVIDENCE, "Who did Zuckerberg sign?", "en", Support(fake_embed, 0.5, 0.5))
        assert result.text == "Alexandr Wang [1]." and result.cited == [2], draft


def test_nothing_supported_gives_empty_text():
    assert verify("The answer is 12 [1].", EVIDENCE, "What?", "en", Support(fake_embed, 0.0, 0.5)).text == ""
    assert verify("", EVIDENCE, "What?", "en", Support(fake_embed, 0.0, 0.5)).text == ""


def test_with_markers_goes_before_final_punctuation():
    assert with_markers("Meta bought 49%.", [1, 2]) == "Meta bought 49% [1][2]."
    assert with_markers("Meta bought 49%", [1]) == "Meta bought 49% [1]"


@pytest.mark.parametrize("rendering, words, words_lang, question, lang, why", [
    ("abolish the state of Israel", "abolir o estado de Israel", "pt", "What did Hamas want?", "en", None),
    ("14 000 millions", "14 000 million", "fr", "How much?", "en", None),
    ("14 billion", "14 000 millions", "fr", "How much?", "en", None),  # the same size
    ("14 million", "14 000 millions", "fr", "How much?", "en", "number"),
    ("14 billion dollars", "14 000 millions de dollars", "fr", "How much?", "en", None),  # number words are numbers
    ("Jacques Dupont", "o rei George III", "pt", "Who?", "en", "name"),
    ("espectro de passage", "espectro de abertura", "pt", "Comment?", "fr", "said half"),
    ("spectre d'ouverture", "espectro de abertura", "pt", "Comment?", "fr", None),
    ("NONE", "espectro de abertura", "pt", "Comment?", "fr", "empty"),
    ("x " * 40, "abertura", "pt", "Comment?", "fr", "too long"),
])
def test_a_rendering_keeps_numbers_names_and_is_said_whole(rendering, words, words_lang, question, lang, why):
    from assistant.cite import check_rendering

    assert check_rendering(rendering, words, words_lang, question, lang) == why


@pytest.mark.parametrize("claim, groups, reason", [
    # the natural question nat-a-16: "l'Irlande" drafted from a sentence about "Irão", accepted through an embedding
    # neighbour before; a name's neighbour must hold its first letters
    ("Les pays cités sont la Chine et l'Irlande [1].", {"irland": {"irland", "irao"}}, "name"),
    ("Les pays cités sont la Chine et l'Iran [1].", {"iran": {"iran", "irao"}}, None),
    ("They met in London [1].", {"london": {"london", "londre"}}, None),  # "Londres" holds "lond"
])
def test_a_name_found_only_through_a_neighbour_must_begin_alike(claim, groups, reason):
    evidence = [("Os países citados são a China, a Rússia e o Irão, reunidos em Londres.", "pt")]
    s = signals(claim, evidence, "Quels pays sont cités ?", "fr", 1.0, groups)
    assert s.names is (reason is None), s


@pytest.mark.parametrize("claim, groups, is_name_ok", [
    # English capitalises words that French writes in lower case: their translations are words, not names
    ("Nobel Prize in Literature [1].", {"prize": {"prize", "prix"}, "litera": {"litera", "litter"}}, True),
    ("On 10 March 2014 [1].", {"march": {"march", "mars"}}, True),
    # a name the evidence holds only as a name, or not at all, is still checked as one
    ("Nobel Prize in Stockholm [1].", {"prize": {"prize", "prix"}, "stockh": {"stockh", "suede"}}, False),
    ("The Knicks of Boston [1].", {"boston": {"boston", "knicks"}}, False),
])
def test_a_capitalised_translation_of_a_lower_case_word_is_a_word(claim, groups, is_name_ok):
    evidence = [("Le 10 mars 2014, les Knicks ont reçu le prix Nobel de littérature en Suède.", "fr")]
    assert signals(claim, evidence, "What did they get?", "en", 1.0, groups).names is is_name_ok


@pytest.mark.parametrize("claim, evidence, coverage", [
    # spelled-out numbers are found by their value, in any language; a scale word by the number rule
    ("two, four or eight.", "Pode-se usar diversos bytes consecutivos (geralmente dois, quatro ou oito).", 1.0),
    ("two, four or nine.", "Pode-se usar diversos bytes consecutivos (geralmente dois, quatro ou oito).", 2 / 3),
    ("£ 1,3 billion.", "Sky pegou os quatro restantes por £ 1,3 bilhão.", 1.0),
    ("£ 1,3 million.", "Sky pegou os quatro restantes por £ 1,3 bilhão.", 0.0),  # and the number rule fails
])
def test_numbers_in_words_and_scales_count_by_their_value(claim, evidence, coverage):
    assert signals(claim, [(evidence, "pt")], "How many?", "en", 1.0).coverage == pytest.approx(coverage)


AMODEI_PT = ("Dario Amodei, CEO da Anthropic, a empresa por trás dos modelos Claude, estimou recentemente que os modelos de "
             "IA poderiam custar de US$ 5 a 10 bilhões para serem treinados e implantados nos próximos anos.")
AMODEI_EN = ("Dario Amodei, CEO of Anthropic, the company behind the Claude models, recently estimated that AI models "
             "could cost US$ 5 to 10 billion to be trained and deployed in the coming years.")


@pytest.mark.parametrize("translation, sentence, why", [
    (AMODEI_EN, AMODEI_PT, None),
    (AMODEI_EN.replace("US$ 5 to 10 billion", "5 to 10 billion euros"), AMODEI_PT, "currency"),
    (AMODEI_EN.replace("10 billion", "10 million"), AMODEI_PT, "number"),  # the size changed
    (AMODEI_EN.replace("US$ 5 to 10 billion", "a lot"), AMODEI_PT, "number left out"),
    (AMODEI_EN.replace("Dario Amodei", "Sam Altman"), AMODEI_PT, "name"),
    (AMODEI_PT, AMODEI_PT, "language"),  # not translated at all
    ("AI is costly.", AMODEI_PT, "length"),
    ("NONE", AMODEI_PT, "empty"),
    ("No, " + AMODEI_EN, AMODEI_PT, "answers"),  # the reader answered the question instead
    ("No, " + AMODEI_EN, "No entanto, " + AMODEI_PT, "answers"),  # a Portuguese "No" (in the) is no "no"
    # the words a translation rightly changes: a month, an acronym's letter order ("IA" is "AI")
    ("His sentence having lapsed in 1976, he was released and went back to Madrid, where he died on October 6, 2011.",
     "Sa peine étant prescrite depuis 1976, il fut relaxé et regagna Madrid où il décédera le 6 octobre 2011.", None),
    ("Meta's AI models are open.", "Os modelos de IA da Meta são abertos.", None),
    # a century in Roman numerals is said in digits
    ("Neurology became a medical specialty of its own only gradually from the 16th century.",
     "La neurologie ne s'individualise comme spécialité médicale que progressivement à partir du XVIe siècle.", None),
])
def test_a_translated_quote_keeps_numbers_currency_names_and_is_in_the_asker_s_language(translation, sentence, why):
    from assistant.lang import detect_language
    from assistant.translate import check_translation

    source = detect_language(sentence)
    asked = ("How much could it cost to train AI models?", "en")
    # (no word rule here: without the index's cross-lingual neighbours few words of a translation are found)
    assert check_translation(translation, (sentence, source), asked, 0.9, (0.0, 0.85)) == why


def test_a_translated_quote_needs_the_sentence_s_meaning():
    from assistant.translate import check_translation

    asked = ("How much could it cost to train AI models?", "en")
    assert check_translation(AMODEI_EN, (AMODEI_PT, "pt"), asked, 0.80, (0.25, 0.85)) == "meaning"
    assert check_translation(AMODEI_EN, (AMODEI_PT, "pt"), asked, 0.90, (0.99, 0.85)) == "words"


def test_a_currency_the_evidence_does_not_name_is_not_supported():
    from assistant.cite import signals

    evidence = [(AMODEI_PT, "pt")]
    ok = signals("5 to 10 billion dollars.", evidence, "How much could it cost?", "en", 0.9)
    euros = signals("5 to 10 billion euros.", evidence, "How much could it cost?", "en", 0.9)
    assert ok.currency and ok.reason(0.0, 0.0) is None
    assert not euros.currency and euros.reason(0.0, 0.0) == "currency"
    asked = signals("5 to 10 billion euros.", evidence, "How much is that in euros?", "en", 0.9)
    assert asked.currency  # the question's currency may be said
