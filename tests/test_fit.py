"""Fitting on the training set (evals/fit.py): the rule that moves a swept value, on known answers."""

from evals import fit
from evals.train import sample, split_of


def test_a_value_moves_only_for_a_significant_gain():
    # 12 questions gained, 2 lost: McNemar's exact one-sided p = 0.0065
    before = [False] * 12 + [True] * 2 + [True] * 100
    after = [True] * 12 + [False] * 2 + [True] * 100
    assert fit._gain_is_real(before, after)
    # 6 gained, 2 lost: p = 0.145, noise
    assert not fit._gain_is_real([False] * 6 + [True] * 2, [True] * 6 + [False] * 2)
    # nothing changed, or more lost than gained
    assert not fit._gain_is_real([True, False], [True, False])
    assert not fit._gain_is_real([True] * 10, [False] * 10)


def test_shown_figures_weigh_each_language_alike():
    ranks = [("fr", 1), ("fr", 3), ("fr", None), ("fr", 2), ("en", 2)]
    figures = fit._shown_figures(ranks)
    assert figures == {"en": 1.0, "fr": 0.5, "macro": 0.75}
    assert fit._shown_figures(ranks, 1)["fr"] == 0.25


def test_the_grid_holds_todays_defaults():
    """Coordinate ascent starts from the defaults: each must be one of its grid's values, or it could never be kept
    by a comparison with its neighbours."""
    from assistant import Config
    from assistant import evidence

    config = Config()
    for key, values in fit.RETRIEVAL_GRID.items():
        value = getattr(evidence, key.split(".", 1)[1]) if key.startswith("evidence.") else getattr(config, key)
        assert value in values, key


def test_a_sample_keeps_to_its_part_and_is_the_same_each_time():
    from evals.gold import GoldItem

    items = [GoldItem(id=f"piaf-{i}", lang="fr", question="q", answers=["a"], source=f"doc{i % 20}.txt",
                      evidence="e", answerable=True) for i in range(200)]
    one = sample(items, "fit", {"piaf": 30}, seed=2)
    assert one == sample(items, "fit", {"piaf": 30}, seed=2) and len(one) == 30
    assert {split_of(g.source) for g in one} == {"fit"}
