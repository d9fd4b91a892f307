import json

import pytest

from assistant.lang import detect_language, fold, tokens
from conftest import GOLD


def test_fold_and_tokens():
    assert fold("Parâmetros ÉTÉ Ação") == "parametros ete acao"
    assert tokens("O Llama 3.1 tem 405 bilhões; l'objectif") == ["o", "llama", "3.1", "tem", "405", "bilhões", "l", "objectif"]


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
