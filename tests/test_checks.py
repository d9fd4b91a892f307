"""The refusal checks on synthetic inputs (fast): each check's boundary, and that each switch reaches the pipeline."""

import pytest

from assistant import Config, ConfigError
from assistant.checks import (REFUSAL_CHECKS, AnswerabilityCheck, EvidenceCheck, LanguageCheck, NamesCheck,
                              ReaderCheck, SupportCheck, VerificationCheck)
from assistant.evidence import Evidence
from assistant.generate import Abstention
from assistant.prompt import NONE


def ev(support: float) -> Evidence:
    return Evidence("a.txt", "t", "pt", "A Meta comprou 49% da Scale AI.", 0, 31, support + 0.01, 0, support)


@pytest.mark.parametrize("spoken, refused", [
    ("en", False), ("pt", False), ("fr", False), (None, False),  # no signal: answered in English
    ("de", True), ("es", True), ("it", True), ("nl", True), ("und", True),
])
def test_language(spoken, refused):
    reason = LanguageCheck().reason(spoken)
    assert bool(reason) is refused
    if spoken == "de":
        assert reason.endswith("the question is in German")


def test_evidence():
    assert EvidenceCheck().reason([]) == "the retrieved passages hold no sentence to answer from"
    assert EvidenceCheck().reason([ev(0.0)]) == ""


@pytest.mark.parametrize("supports, threshold, refused", [
    ([0.05], 0.046, False),
    ([0.046], 0.046, False),  # reaching the threshold is enough
    ([0.045, 0.01], 0.046, True),
    ([0.01, 0.2], 0.046, False),  # the best sentence decides, wherever it is ranked
    ([], 0.046, True),
    ([-0.5], -1.0, False),
])
def test_support(supports, threshold, refused):
    reason = SupportCheck(threshold).reason([ev(s) for s in supports])
    assert bool(reason) is refused
    if supports and refused:
        assert f"best {max(supports):.3f}, needed {threshold:.3f}" in reason


@pytest.mark.parametrize("p_none, draft, refused", [
    (0.30, "49% [1].", True),  # reaching the threshold
    (0.29, "49% [1].", False),
    (None, "49% [1].", False),  # a server reader: no probability, its reply is taken as written
    (None, NONE, True),
    (0.10, "Les articles ne le disent pas.", True),  # a refusal sentence it wrote itself
    (0.10, "Os artigos dizem 49% [1].", False),
])
def test_reader(p_none, draft, refused):
    abstain = Abstention(NONE, 0.3, p_none)
    reason = ReaderCheck().reason(abstain, draft)
    assert bool(reason) is refused
    assert ReaderCheck().reason(None, draft) == ""  # a reader that cannot read is not trusted to refuse


def test_verification():
    assert VerificationCheck().reason("") and VerificationCheck().reason("49% [1].") == ""


def test_each_check_has_its_name_and_the_switchable_ones_are_listed_once():
    names = [c.name for c in (LanguageCheck, EvidenceCheck, SupportCheck, NamesCheck, ReaderCheck,
                              VerificationCheck, AnswerabilityCheck)]
    assert len(set(names)) == len(names) and set(REFUSAL_CHECKS) <= set(names)
    assert Config().refusal_checks == REFUSAL_CHECKS
    assert Config(refusal_checks=["reader"]).refusal_checks == ("reader",)  # a TOML list becomes a tuple
    for bad in (["support", "bogus"], "support", None):
        with pytest.raises(ConfigError, match="refusal_checks"):
            Config(refusal_checks=bad)


def test_switching_a_check_off_reaches_the_pipeline(built):
    from conftest import ScriptedGenerator

    view = built.with_reader(ScriptedGenerator("49 % [2]."))
    weak = view.with_settings(refusal_threshold=2.0)  # no sentence can reach it
    assert weak.ask("Quelle part de Scale AI Meta a-t-elle achetée ?").refusal_reason.startswith("support:")
    answered = weak.with_settings(refusal_checks=("language", "reader")).ask(
        "Quelle part de Scale AI Meta a-t-elle achetée ?")
    assert not answered.refused and answered.mode == "generated"
    assert answered.text.startswith("49%")  # the cited sentence's own words
    german = "Wie viele Parameter hat Llama 3.1?"
    assert view.ask(german).refusal_reason.startswith("language:")
    assert not view.with_settings(refusal_checks=("support", "reader")).ask(german).refusal_reason.startswith(
        "language:")
    # by default the reader is never made to abstain (abstain_threshold 1.0); set lower, its check refuses
    abstaining = built.with_reader(ScriptedGenerator("49 % [2].", p_none=0.9)).with_settings(abstain_threshold=0.5)
    assert abstaining.ask("Quelle part de Scale AI Meta a-t-elle achetée ?").refusal_reason.startswith("reader:")
    assert not abstaining.with_settings(refusal_checks=("language", "support")).ask(
        "Quelle part de Scale AI Meta a-t-elle achetée ?").refused


def test_names_check():
    assert NamesCheck().reason([]) == ""
    assert NamesCheck().reason(["fifa"]) == "no article mentions 'fifa'"


@pytest.mark.parametrize("question, language, expected", [
    ("Which team won the 2022 FIFA World Cup?", "en", ["fifa"]),  # an acronym: written alike in every language
    ("Qui a gagné le Tour de France en 2023 ?", "fr", ["france"]),  # a French question of French articles
    ("Quem escreveu Os Lusíadas?", "pt", ["lusiadas"]),
    ("Who directed the film Titanic?", "en", []),  # English names may be translated: not held to it
    ("Que percentagem da Scale AI a Meta comprou?", "pt", []),  # "IA à l'échelle": a neighbour shares "scal"
    ("Quem é Mark Zuckerberg?", "pt", []),
    ("Quanto custa a IA da Meta?", "pt", []),  # two letters: too short to tell
])
def test_names_no_article_mentions(built, question, language, expected):
    from assistant.mentions import unmentioned

    assert unmentioned(question, language, built.retriever) == expected


def test_a_question_naming_what_no_article_mentions_is_refused_before_the_reader(built):
    from conftest import ScriptedGenerator

    view = built.with_reader(ScriptedGenerator("OpenAI [1]."))
    answer = view.ask("Qui a gagné le Tour de France en 2023 ?")
    assert answer.refused and answer.refusal_reason == "names: no article mentions 'france'" and not answer.raw
    checks = tuple(c for c in REFUSAL_CHECKS if c != "names")
    assert not view.with_settings(refusal_checks=checks).ask(
        "Qui a gagné le Tour de France en 2023 ?").refusal_reason.startswith("names:")


@pytest.mark.parametrize("raw, clean", [
    ("<b>Quelle part</b> de Scale AI Meta a-t-elle achetée&nbsp;?", "Quelle part de Scale AI Meta a-t-elle achetée ?"),
    ("Quelle part de Scale\u200b AI Meta a-t-elle\u2060 achetée ?", "Quelle part de Scale AI Meta a-t-elle achetée ?"),
    ("Who <!-- hidden --> is <a href='x'>the CEO</a>?", "Who is the CEO ?"),
    ("Is 3 < 4 and 5 > 2?", "Is 3 < 4 and 5 > 2?"),  # not markup
])
def test_a_question_loses_its_markup_and_invisible_characters(raw, clean):
    from assistant.question import clean_question

    assert clean_question(raw, 1000) == clean
