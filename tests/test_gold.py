"""The committed gold file follows the schema and its evidence is really in the articles."""

from collections import Counter

from evals.gold import KEYS, load_gold
from conftest import CORPUS, GOLD
import json


def test_schema_and_counts():
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == list(KEYS)
    items = load_gold(GOLD)
    answerable = Counter(g.lang for g in items if g.answerable)
    assert len(items) >= 60
    assert all(answerable[code] >= 15 for code in ("en", "pt", "fr")), answerable
    assert sum(1 for g in items if not g.answerable) >= 10


def test_evidence_is_an_exact_substring_of_its_source():
    for g in load_gold(GOLD):
        if g.answerable:
            assert g.evidence in (CORPUS / g.source).read_text(encoding="utf-8"), g.id
        else:
            assert g.source is None and g.evidence is None and g.answers == ()
