import json

import pytest

from assistant.lang import UNDETERMINED, detect_language, fold, identify, tokens
from conftest import GOLD


def test_fold_and_tokens():
    assert fold("Parâmetros ÉTÉ Ação") == "parametros ete acao"
    assert tokens("O Llama 3.1 tem 405 bilhões; l'objectif") == ["o", "llama", "3.1", "tem", "405", "bilhões", "l", "objectif"]


def test_fold_drops_the_combining_marks_of_every_code_point():
    import unicodedata

    def reference(text):  # the definition: every combining character of the NFKD form dropped
        return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)  # surrogates are not text
    for at in range(0, len(every), 4096):
        assert fold(every[at:at + 4096]) == reference(every[at:at + 4096])
    for text in ("Parâmetros", "ÇA", "ﬁnançado", "İstanbul", "Ǆ", "hello", "עִבְרִית", "हिन्दी"):
        assert fold(text) == reference(text)


@pytest.mark.parametrize("text,code", [
    ("How many parameters does Llama 3.1 have?", "en"),
    ("Quantos parâmetros tem o Llama 3.1?", "pt"),
    ("Combien de paramètres a Llama 3.1 ?", "fr"),
    ("Qual parte da Scale AI a Meta comprou?", "pt"),
    ("Quelle part de Scale AI Meta a-t-elle achetée ?", "fr"),
    ("Who is Nick Clegg?", "en"),
    ("Llama", "en"),
    ("", "en"),
])
def test_examples(text, code):
    assert detect_language(text) == code


def test_gold_questions_are_detected_in_their_language():
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
    wrong = [(r["id"], r["question"]) for r in rows if detect_language(r["question"]) != r["lang"]]
    assert len(wrong) <= len(rows) // 50, wrong  # at most 2% wrong


@pytest.mark.parametrize("text,code", [
    ("Wie viele Parameter hat Llama 3.1?", "de"),
    ("Was ist Llama?", "en"),  # two words; the detector finds English likelier than German: answered (a limit)
    ("Wann wurde Llama 3.1 veröffentlicht?", "de"),
    ("¿Cuántos parámetros tiene Llama 3.1?", "es"),
    ("Quien es Nick Clegg", "es"),
    ("Quanti parametri ha Llama 3.1?", "it"),
    ("Chi è Nick Clegg?", "it"),
    ("Hoeveel parameters heeft Llama 3.1?", "nl"),
    ("Wie is Nick Clegg?", "de"),  # two words: turned away, under the wrong name (a limit)
    ("Сколько параметров у Llama 3.1?", UNDETERMINED),
    ("Llama 3.1 有多少参数？", UNDETERMINED),  # the Latin letters are names: they say nothing
    ("Who is Nick Clegg?", "en"),
    ("Quem é Nick Clegg?", "pt"),
    ("Qui est Nick Clegg ?", "fr"),
    ("Llama 3.1?", None),  # nothing says which language: not claimed
    ("Scale AI", None),
    ("?!…¿¡", None),  # was Spanish
    ("llama linux unix", None),
    ("Quelle est la profession de Carlo Gesualdo ?", "fr"),  # the detector alone, with the name, said Italian
    ("Em que condado reside Jacksonville?", "pt"),  # Spanish by the detector, not by enough: the vote says Portuguese
])
def test_identify_names_other_languages_and_claims_nothing_without_a_signal(text, code):
    assert identify(text) == code


def test_no_question_of_ours_or_of_the_outside_sets_is_taken_for_an_unsupported_language():
    files = [f for f in sorted(GOLD.parent.glob("*.jsonl")) if f.name not in ("languages.jsonl", "redteam.jsonl")] + [p for p in [GOLD.parents[2].parent / "shared/outside/gold.jsonl"]
                                                   if p.exists()]
    questions = [json.loads(line).get("question") for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    questions = [q for q in questions if q]
    assert len(questions) > 600
    other = [(q, identify(q)) for q in questions if identify(q) not in ("en", "pt", "fr", None)]
    assert other == []


def test_twelve_languages_are_named_right_and_the_nine_unsupported_ones_mostly_turned_away():
    # evals/gold/languages.jsonl: 10 questions each in en, pt, fr, es, it, de, nl, pl, sv, id, tr, ro (docs/evaluation.md)
    rows = [json.loads(line) for line in (GOLD.parent / "languages.jsonl").read_text(encoding="utf-8").splitlines()]
    found = [(r["lang"], identify(r["question"])) for r in rows]
    assert len(rows) == 120 and sum(want == got for want, got in found) >= 114  # 0.95; 116 on 2026-12-07
    assert all(got == want for want, got in found if want in ("en", "pt", "fr"))
    answered = [(want, got) for want, got in found if want not in ("en", "pt", "fr") and got in ("en", "pt", "fr", None)]
    assert len(answered) <= 3  # Italian x2, Swedish x1 (short questions the detector is not sure of)
