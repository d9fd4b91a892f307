"""The committed gold files follow the schema and their evidence is really in the articles."""

import json
from collections import Counter

import pytest

from evals.gold import KEYS, load_gold
from conftest import CORPUS, GOLD, REPO

HELDOUT = GOLD.with_name("heldout.jsonl")
SETS = {"dev": GOLD, "heldout": HELDOUT}


def test_schema_and_counts():
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == list(KEYS)
    items = load_gold(GOLD)
    answerable = Counter(g.lang for g in items if g.answerable)
    assert len(items) >= 60
    assert all(answerable[code] >= 15 for code in ("en", "pt", "fr")), answerable
    assert sum(1 for g in items if not g.answerable) >= 10


def test_held_out_set_is_apart_from_the_dev_set():
    for line in HELDOUT.read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == list(KEYS)
    dev, held = load_gold(GOLD), load_gold(HELDOUT)
    assert not {g.id for g in dev} & {g.id for g in held}
    assert not {g.question for g in dev} & {g.question for g in held}
    assert not {g.evidence for g in dev if g.evidence} & {g.evidence for g in held if g.evidence}


@pytest.mark.parametrize("path", list(SETS.values()), ids=list(SETS))
def test_evidence_is_an_exact_substring_of_its_source(path):
    for g in load_gold(path):
        if g.answerable:
            assert g.evidence in (CORPUS / g.source).read_text(encoding="utf-8"), g.id
        else:
            assert g.source is None and g.evidence is None and g.answers == ()


OUTSIDE = REPO.parent / "shared" / "outside"  # ../shared beside the clone, in CI as here
OUTSIDE_EN = GOLD.with_name("outside_en.jsonl")  # English versions of outside questions, written by the team


def test_the_english_outside_questions_match_their_originals():
    originals = {g.id: g for g in load_gold(OUTSIDE / "gold.jsonl")}
    english = load_gold(OUTSIDE_EN)
    assert len(english) >= 30 and {g.lang for g in english} == {"en"}
    assert sum(not g.answerable for g in english) >= 5
    for g in english:
        original = originals[g.id.removesuffix("-en")]
        assert (g.answerable, g.source, g.evidence) == (original.answerable, original.source, original.evidence)
        assert set(original.answers) <= set(g.answers)  # the annotators' spans, and English ones beside them
        if g.answerable:
            assert g.evidence in (OUTSIDE / "corpus" / g.source).read_text(encoding="utf-8"), g.id


def test_the_support_pairs_are_labelled_and_unique():
    from evals.judge import load_pairs

    pairs = load_pairs(GOLD.with_name("support_pairs.jsonl"))
    assert len({p.id for p in pairs}) == len(pairs)
    drafts = [p for p in pairs if p.question]  # the default reader's drafts, with the question they answer
    assert len(drafts) >= 400 and 0.2 < sum(p.label for p in drafts) / len(drafts) < 0.5
    assert {p.corpus for p in drafts} == {"", "outside"}


def test_the_train_support_pairs_are_labelled_and_over_the_training_documents():
    """The one-fact drafts over ../shared/train that checked support_coverage / support_threshold (docs/settings.md):
    each premise is a sentence of a training document (the one retrieval chose, not always the question's)."""
    from evals.judge import load_pairs

    pairs = load_pairs(GOLD.with_name("train_support_pairs.jsonl"))
    assert len({p.id for p in pairs}) == len(pairs) == 101
    assert {p.corpus for p in pairs} == {"train"} and all(p.question for p in pairs)
    assert sum(p.label for p in pairs) == 24
    squash = lambda text: " ".join(text.split())  # noqa: E731
    documents = "\n".join(squash(path.read_text(encoding="utf-8"))
                          for path in (REPO.parent / "shared" / "train" / "corpus").glob("*.txt"))
    for p in pairs:
        assert squash(p.premise)[:60] in documents, p.id
