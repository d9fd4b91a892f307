"""Fitting the assistant's tuned values on the training set (`../shared/train`, evals/train.py), never on an
evaluation set:

    python -m evals fit answerability --home HOME [--translated evals/gold/train_en_mt.jsonl] [--cache FILE]
    python -m evals fit support --home HOME
    python -m evals fit names --home HOME [--translated evals/gold/train_en_mt.jsonl]
    python -m evals fit retrieval --home HOME [--translated ...] [--per-kind N]

`HOME` is a folder whose `corpus/` is a copy of `../shared/train/corpus` (its index is built on first use).

- `answerability`: asks a fixed sample of each part's questions (`SIZES`, and the machine-translated English ones)
  as the default config would, but with neither the support check nor the answerability check, and reads each answer's
  answerability features (assistant/answerability.py). A logistic regression is fitted on the fit part (unanswerable
  = 1); its threshold is chosen on the choose part: the lowest at which at most `--answerable-refused` of the
  answerable questions are refused. Writes assistant/data/answerability.json.
- `support`: the support check's `refusal_threshold` (checks.py), which refuses before the reader a question no
  sentence is close to. Off-topic questions are simulated without another index: each question is asked of the
  documents of one part only, so the other part's questions are about documents that are not there. The threshold
  is the highest at which at most `--answerable-refused` of the fit part's answerable questions asked of their own
  part are refused; the choose part's figures are printed beside it.
- `retrieval`: the fusion (its kind and weights), term expansion and evidence-ranking values (`RETRIEVAL_GRID`), by coordinate ascent on the
  fit part's answerable questions, judged by "the gold sentence is among the two the reader is shown" (no reader
  runs); the choose part compares the defaults with the chosen values.
- `names`: nothing to fit (mentions.py's constants are letter counts); prints the share of the training questions
  the `names` check would refuse, answerable and not, in their own language and translated: its cost.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from assistant import Assistant, Config
from assistant.answerability import FEATURES, Model
from assistant.evidence import evidence_rows, rank_evidence

from .gold import load_gold
from .train import PARTS, sample, split_of

__all__ = ["SIZES", "answerability_features", "fit_answerability", "support_scores", "fit_support", "measure_names",
           "RETRIEVAL_GRID", "shown_ranks", "fit_retrieval"]

# Questions asked per part and kind: enough for ten features, and about 30 and 20 minutes of the reader here.
SIZES = {"fit": {"piaf": 100, "squad": 100, "squad-unanswerable": 150},
         "choose": {"piaf": 70, "squad": 70, "squad-unanswerable": 90}}


def _assistant(home: Path, cache: str | None) -> Assistant:
    # every question reaches the reader (no support check) and is answered (no answerability check), as the
    # default config would otherwise ask it
    config = Config.load(corpus_dir=home / "corpus", index_dir=home / "index", refusal_checks=("language", "reader"))
    assistant = Assistant(config, progress=True)
    assistant.index()
    if cache:
        from .cache import CachedGenerator

        assistant = assistant.with_reader(CachedGenerator(assistant.generator, cache))
    return assistant


def answerability_features(assistant: Assistant, items) -> tuple[np.ndarray, np.ndarray]:
    """Features (rows in FEATURES order) and labels (1: unanswerable) of the questions the reader answered."""
    rows, labels = [], []
    for n, g in enumerate(items, start=1):
        answer = assistant.ask(g.question)
        if answer.answerability:
            rows.append([answer.answerability["features"][f] for f in FEATURES])
            labels.append(0 if g.answerable else 1)
        print(f"\r{n}/{len(items)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES)), np.array(labels)


def fit_answerability(home: Path, train: str, translated: list[str], cache: str | None, target: float,
                      out: Path) -> Model:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    assistant = _assistant(home, cache)
    gold = load_gold(train)
    extra = [g for path in translated for g in load_gold(path)]
    data = {}
    for part in PARTS:
        items = sample(gold, part, SIZES[part]) + [g for g in extra if split_of(g.source) == part]
        print(f"{part}: {len(items)} questions", file=sys.stderr)
        data[part] = answerability_features(assistant, items)
    x, y = data["fit"]
    means, scales = x.mean(0), x.std(0)
    scales[scales < 1e-9] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=5000).fit((x - means) / scales, y)
    fitted = Model(tuple(lr.coef_[0].tolist()), tuple(means.tolist()), tuple(scales.tolist()),
                   float(lr.intercept_[0]), 1.0, "")
    xc, yc = data["choose"]
    p = np.array([fitted.probability(_signals(row)) for row in xc])
    answerable = np.sort(p[yc == 0])
    # the lowest threshold that refuses at most `target` of the answerable questions
    allowed = int(np.floor(target * len(answerable)))
    threshold = float(answerable[len(answerable) - allowed - 1]) + 1e-9 if allowed < len(answerable) else 0.0
    model = Model(fitted.weights, fitted.means, fitted.scales, fitted.intercept, round(threshold, 6),
                  f"weights fitted on the training set's fit part ({len(y)} questions, {int(y.sum())} unanswerable), "
                  f"threshold chosen on its choose part ({len(yc)} questions) for at most {target:.0%} of "
                  f"answerable questions refused (python -m evals fit answerability)")
    pf = np.array([model.probability(_signals(row)) for row in x])
    print(f"fit part:    AUC {roc_auc_score(y, pf):.3f}; at the threshold, unanswerable refused "
          f"{(pf[y == 1] >= model.threshold).mean():.3f}, answerable refused {(pf[y == 0] >= model.threshold).mean():.3f}")
    print(f"choose part: AUC {roc_auc_score(yc, p):.3f}; at the threshold {model.threshold:.4f}, unanswerable refused "
          f"{(p[yc == 1] >= model.threshold).mean():.3f}, answerable refused {(p[yc == 0] >= model.threshold).mean():.3f}")
    for name, w in zip(FEATURES, model.weights):
        print(f"  {name:15s} {w:+.3f}")
    out.write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return model


def _signals(row):
    from assistant.answerability import Signals

    return Signals(*row)


def support_scores(assistant: Assistant, items, depth: int = 60) -> list[dict]:
    """For each question, the best support (evidence.py) among the sentences of the top `config.k` passages of
    each part's documents (retrieval over the whole index, the other part's passages left out)."""
    retriever, k, out = assistant.retriever, assistant.config.k, []
    for n, g in enumerate(items, start=1):
        found = retriever.search(g.question, depth, assistant.config.retrieval_mode)
        row = {"id": g.id, "answerable": g.answerable, "part": split_of(g.source)}
        for part in PARTS:
            passages = [p for p in found if split_of(p.source) == part][:k]
            rows = evidence_rows(passages, retriever.index)
            scores = dict(zip(rows, retriever.sentence_scores(g.question, rows=rows).tolist()))
            candidates = rank_evidence(passages, scores, retriever.index, g.question, retriever.idf,
                                       retriever.term_groups(g.question))
            row[part] = max((c.support for c in candidates), default=float("-inf"))
        out.append(row)
        print(f"\r{n}/{len(items)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def fit_support(home: Path, train: str, translated: list[str], target: float, per_kind: int) -> float:
    assistant = Assistant(Config.load(corpus_dir=home / "corpus", index_dir=home / "index"), progress=True)
    gold = load_gold(train)
    items = []
    for part in PARTS:
        items += sample(gold, part, {"piaf": per_kind, "squad": per_kind, "squad-unanswerable": per_kind}, seed=1)
    items += [g for path in translated for g in load_gold(path)]
    rows = support_scores(assistant, items)

    def figures(part: str, threshold: float) -> str:
        own = [r[part] for r in rows if r["part"] == part and r["answerable"]]
        near = [r[part] for r in rows if r["part"] == part and not r["answerable"]]
        off = [r[part] for r in rows if r["part"] != part]
        share = lambda xs: sum(x < threshold for x in xs) / max(1, len(xs))  # noqa: E731
        return (f"answerable refused {share(own):.3f} ({len(own)}), unanswerable refused {share(near):.3f} "
                f"({len(near)}), off-topic refused {share(off):.3f} ({len(off)})")

    def highest(scores) -> float:  # the highest threshold refusing at most `target` of these
        scores = np.sort(scores)
        return float(scores[int(np.floor(target * len(scores)))]) if len(scores) else float("inf")

    # same-language and cross-lingual questions score differently: the threshold must hold for both
    fit = [r for r in rows if r["part"] == "fit" and r["answerable"]]
    threshold = min(highest([r["fit"] for r in fit if not r["id"].endswith("-en")]),
                    highest([r["fit"] for r in fit if r["id"].endswith("-en")]))
    print(f"refusal_threshold {threshold:.4f}: the highest refusing at most {target:.0%} of the fit part's answerable "
          f"questions, in their own language and in English")
    for part in PARTS:
        print(f"  {part} part: {figures(part, threshold)}")
    english = [r for r in rows if r["id"].endswith("-en")]
    if english:
        for part in PARTS:
            asked = [r for r in english if r["part"] == part and r["answerable"]]
            print(f"  {part} part's English translations: answerable refused "
                  f"{sum(r[part] < threshold for r in asked)}/{len(asked)}")
    return threshold


def measure_names(home: Path, train: str, translated: list[str]) -> None:
    from assistant.mentions import unmentioned

    assistant = Assistant(Config.load(corpus_dir=home / "corpus", index_dir=home / "index"), progress=True)
    retriever = assistant.retriever
    for path in [train, *translated]:
        counts = {True: [0, 0], False: [0, 0]}
        for g in load_gold(path):
            counts[g.answerable][0] += bool(unmentioned(g.question, g.lang, retriever))
            counts[g.answerable][1] += 1
        print(f"{path}: the names check refuses answerable {counts[True][0]}/{counts[True][1]}, "
              f"unanswerable {counts[False][0]}/{counts[False][1]}")


# The values `fit retrieval` sweeps, each over these candidates (evidence.py's two weights are module constants).
RETRIEVAL_GRID = {
    "bm25_weight": (0.4, 0.8, 1.2, 1.6, 2.4),
    "bm25_threshold": (0.5, 1.0, 1.5, 2.0, 2.5),
    "term_expansion": (0, 1, 3, 5),
    "term_similarity": (0.80, 0.83, 0.86, 0.89, 0.92),
    "pooled_passage_weight": (0.0, 0.15, 0.3),
    "k": (3, 5, 8),
    "fusion": ("zscore", "rrf"),
    "evidence._OVERLAP": (0.0, 0.05, 0.1, 0.2),
    "evidence._EXPANDED": (0.0, 0.05, 0.1, 0.2),
}


def shown_ranks(assistant: Assistant, items, settings: dict, depth: int = 10) -> list[tuple[str, int | None]]:
    """(language, rank of the gold sentence among the evidence sentences) of each answerable question, with
    `settings` (config keys, and "evidence.NAME" for evidence.py's constants) applied."""
    from assistant import evidence as evidence_module

    from .metrics import evidence_rank

    config_keys = {k: v for k, v in settings.items() if not k.startswith("evidence.")}
    constants = {k.split(".", 1)[1]: v for k, v in settings.items() if k.startswith("evidence.")}
    saved = {name: getattr(evidence_module, name) for name in constants}
    view = assistant.with_settings(evidence_sentences=depth, evidence_coverage=0.0, **config_keys)
    try:
        for name, value in constants.items():
            setattr(evidence_module, name, value)
        out = []
        for g in items:
            _, sentences = view.evidence(g.question)
            out.append((g.lang, evidence_rank(sentences, assistant.article(g.source).text, g.source, g.evidence)))
        return out
    finally:
        for name, value in saved.items():
            setattr(evidence_module, name, value)


def _shown_figures(ranks, k: int = 2) -> dict[str, float]:
    """Share of questions whose gold sentence is among the best k, per language and their mean ("macro")."""
    by_lang: dict[str, list] = {}
    for lang, rank in ranks:
        by_lang.setdefault(lang, []).append(rank is not None and rank <= k)
    figures = {lang: sum(v) / len(v) for lang, v in sorted(by_lang.items())}
    figures["macro"] = sum(figures.values()) / len(figures)
    return figures


def _gain_is_real(before, after, alpha: float = 0.05) -> bool:
    """McNemar's exact test on the questions that changed: do significantly more gain the gold sentence than lose it?"""
    from math import comb

    gained = sum(1 for b, a in zip(before, after) if a and not b)
    lost = sum(1 for b, a in zip(before, after) if b and not a)
    n = gained + lost
    p = sum(comb(n, i) for i in range(gained, n + 1)) / 2 ** n if n else 1.0  # P(this many gains or more | no effect)
    return gained > lost and p < alpha


def fit_retrieval(home: Path, train: str, translated: list[str], per_kind: int, passes: int = 2) -> dict:
    """Coordinate ascent over RETRIEVAL_GRID on the fit part, one value at a time from today's defaults: a value
    replaces the current one when more questions get the gold sentence among the two shown (the mean over languages:
    French, Portuguese and the English translations weigh alike) and the gain is significant (McNemar, p < 0.05), so
    that noise does not move a setting. The choose part then compares the defaults with the chosen values."""
    import functools

    from assistant import evidence as evidence_module

    assistant = Assistant(Config.load(corpus_dir=home / "corpus", index_dir=home / "index"), progress=True)
    assistant.index()
    retriever = assistant.retriever
    retriever.embed_query = functools.cache(retriever.embedder.embed_query)  # every setting asks the same questions
    gold = [g for g in load_gold(train) if g.answerable]
    extra = [g for path in translated for g in load_gold(path) if g.answerable]
    parts = {part: sample(gold, part, {"piaf": per_kind, "squad": per_kind}, seed=2)
             + [g for g in extra if split_of(g.source) == part] for part in PARTS}
    defaults = {key: (getattr(evidence_module, key.split(".", 1)[1]) if key.startswith("evidence.")
                      else getattr(assistant.config, key)) for key in RETRIEVAL_GRID}
    current = dict(defaults)

    def measure(settings):
        ranks = shown_ranks(assistant, parts["fit"], settings)
        return _shown_figures(ranks)["macro"], [r is not None and r <= 2 for _, r in ranks]

    best, flags = measure(current)
    print(f"fit part, {len(parts['fit'])} questions; defaults: shown@2 {best:.3f}", file=sys.stderr)
    for _ in range(passes):
        moved = False
        for key, values in RETRIEVAL_GRID.items():
            for value in values:
                if value == current[key]:
                    continue
                trial, trial_flags = measure({**current, key: value})
                real = trial > best + 1e-9 and _gain_is_real(flags, trial_flags)
                print(f"  {key} = {value}: {trial:.3f} (best {best:.3f} at {current[key]})"
                      f"{'; significant: taken' if real else ''}", file=sys.stderr)
                if real:
                    best, flags, current, moved = trial, trial_flags, {**current, key: value}, True
        if not moved:
            break
    print("| setting | default | chosen |\n|---|---|---|")
    for key in RETRIEVAL_GRID:
        print(f"| {key} | {defaults[key]} | {current[key]} |")
    for part in PARTS:
        for name, settings in (("defaults", defaults), ("chosen", current)):
            ranks = shown_ranks(assistant, parts[part], settings)
            figures = _shown_figures(ranks)
            print(f"{part} part, {name} ({len(ranks)} questions): gold shown in the best 2: "
                  + ", ".join(f"{lang} {v:.3f}" for lang, v in figures.items())
                  + f"; in the best 1: {_shown_figures(ranks, 1)['macro']:.3f}, 3: {_shown_figures(ranks, 3)['macro']:.3f}")
    return current
