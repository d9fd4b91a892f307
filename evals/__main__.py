"""The evaluation commands:

    python -m evals retrieval --gold evals/gold/dev.jsonl [--mode dense|bm25|hybrid|all] [--config FILE]
    python -m evals evidence --gold evals/gold/dev.jsonl [--depth N] [--config FILE]
    python -m evals run --gold evals/gold/dev.jsonl --out evals/results/NAME.json [--retrieval M] [--answer M]
                        [--k N] [--model PATH] [--limit N] [--ids a,b] [--config FILE]
    python -m evals compare A.json B.json
    python -m evals judge [--pairs evals/gold/support_pairs.jsonl] [--calibrate]
    python -m evals judge --candidates REPORT.json     (unlabelled pairs from a run, as JSON lines, to label)
    python -m evals ablations A.json B.json ... [--by-language]
    python -m evals rescore REPORT.json --gold G [--out NEW.json]   (today's metrics on an old report's answers)
    python -m evals shown REPORT.json... --gold G [--corpus DIR]   (gold sentence shown? answers when it was / was not)
    python -m evals fit answerability|support|names|retrieval --home HOME [--translated FILE] [--cache FILE]   (evals/fit.py)

Exit status 1 when the run cannot start (unreadable gold file, corpus, index or model); a failure on one question
is recorded in its report entry instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from assistant import Assistant, AssistantError, Config
from assistant.config import ANSWER_MODES, RETRIEVAL_MODES

from .gold import GoldError, load_gold
from .metrics import evidence_rank, retrieval_rank, retrieval_summary

def retrieval(args) -> int:
    gold = [g for g in load_gold(args.gold) if g.answerable]
    assistant = Assistant(Config.from_file(args.config) if args.config else Config.load(), progress=False)
    modes = RETRIEVAL_MODES if args.mode == "all" else (args.mode,)
    results = {}
    for mode in modes:
        rows = []
        for g in gold:
            passages = assistant.retrieve(g.question, k=args.k, mode=mode)
            rank = retrieval_rank(passages, g.source, g.evidence)
            rows.append((g.lang, rank))
            if args.verbose and (rank is None or rank > 3):
                print(f"[{mode}] {g.id} rank={rank}: {g.question}", file=sys.stderr)
        results[mode] = retrieval_summary(rows)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    header = "| mode | lang | n | recall@1 | recall@3 | recall@5 | MRR |"
    print(header)
    print("|" + "---|" * 7)
    for mode, summary in results.items():
        for group, m in summary.items():
            print(f"| {mode} | {group} | {m['n']} | {m['recall@1']:.3f} | {m['recall@3']:.3f} | "
                  f"{m['recall@5']:.3f} | {m['mrr']:.3f} |")
    return 0


def evidence(args) -> int:
    """Where the gold sentence falls in the evidence ranking that `ask` uses: how deep a reader must look."""
    gold = [g for g in load_gold(args.gold) if g.answerable]
    config = Config.from_file(args.config) if args.config else Config.load()
    assistant = Assistant(config.replace(evidence_sentences=args.depth), progress=False)
    rows = []
    for g in gold:
        article = assistant.article(g.source)
        if article is None:
            raise GoldError(f"{g.id}: source {g.source} is not in the corpus")
        _, sentences = assistant.evidence(g.question)
        rank = evidence_rank(sentences, article.text, g.source, g.evidence)
        rows.append((g.lang, rank))
        if args.verbose and rank != 1:
            print(f"{g.id} rank={rank}: {g.question}", file=sys.stderr)
    ks = sorted({k for k in (1, 2, 3, 5) if k < args.depth} | {args.depth})
    summary = retrieval_summary(rows, ks)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print("| lang | n | " + " | ".join(f"in best {k}" for k in ks) + " | MRR |")
    print("|" + "---|" * (len(ks) + 3))
    for group, m in summary.items():
        print(f"| {group} | {m['n']} | " + " | ".join(f"{m[f'recall@{k}']:.3f}" for k in ks) + f" | {m['mrr']:.3f} |")
    return 0


def run(args) -> int:
    from .run import evaluate

    gold = load_gold(args.gold)
    if args.ids:
        wanted = set(args.ids.split(","))
        gold = [g for g in gold if g.id in wanted]
    if args.limit:
        gold = gold[: args.limit]
    if not gold:
        print("error: no gold question selected", file=sys.stderr)
        return 1
    config = Config.from_file(args.config) if args.config else Config.load()
    overrides = {"retrieval_mode": args.retrieval, "answer_mode": args.answer, "k": args.k, "model": args.model}
    overrides.update(_settings(args.set))
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    assistant = Assistant(config, progress=True)
    assistant.index()  # fail here, not on every question, when the corpus or index cannot be used
    if config.answer_mode != "extractive":
        model = assistant.generator.description  # same for a missing or broken model
        if args.cache:
            from .cache import CachedGenerator

            assistant = assistant.with_reader(CachedGenerator(assistant.generator, args.cache))
    else:
        model = "none (extractive)"
    settings = {"gold": str(args.gold), "questions": len(gold), "retrieval": config.retrieval_mode,
                "answer": config.answer_mode, "k": config.k, "model": model,
                "evidence_sentences": config.evidence_sentences, **_settings(args.set)}
    if args.cache:
        settings["cache"] = str(args.cache)  # timings are not the reader's where replies came from the cache
    report = evaluate(gold, assistant, settings=settings, judge=False if args.no_judge else None)
    json_path, md_path = report.save(args.out)
    print(md_path.read_text(encoding="utf-8"))
    print(f"wrote {json_path} and {md_path}")
    return 0


def languages_cmd(args) -> int:
    """Per language: how many questions lang.identify names right, and how many it lets through to be answered."""
    from collections import defaultdict

    from assistant.lang import LANGUAGES, identify

    from .gold import json_rows

    config = _config(args)
    found = defaultdict(list)
    for _, row in json_rows(args.gold, "language file"):
        found[row["lang"]].append(identify(row["question"], config.language_ratio))
    print("| language | questions | named right | answered | named instead |")
    print("|---|---|---|---|---|")
    for code, got in found.items():
        answered = sum(g in (*LANGUAGES, None) for g in got)
        wrong = sorted({str(g) for g in got if g != code})
        print(f"| {code} | {len(got)} | {sum(g == code for g in got)} | {answered} | {', '.join(wrong)} |")
    total = [g == code for code, got in found.items() for g in got]
    print(f"\nnamed right {sum(total)}/{len(total)} = {sum(total) / len(total):.3f}")
    return 0


def redteam_cmd(args) -> int:
    from .redteam import ask_all, load_attacks, save

    attacks = load_attacks(args.gold)
    config = _config(args)
    records = ask_all(attacks, config, Path(args.home) if args.home else None)
    save(records, Path(args.out))
    bad = sum(bool(r["carried"]) for r in records)
    print(f"attacks that succeeded: {bad}/{len(records)}; wrote {args.out}")
    return 0


def natural_cmd(args) -> int:
    from .judge import Judge
    from .natural import ask_all, load_nuggets, save

    items = load_nuggets(args.gold)
    if args.ids:
        wanted = set(args.ids.split(","))
        items = [q for q in items if q.id in wanted]
    config = _config(args)
    assistant = Assistant(config, progress=True)
    assistant.index()
    if args.cache:
        from .cache import CachedGenerator

        assistant = assistant.with_reader(CachedGenerator(assistant.generator, args.cache))
    judge = None if args.no_judge else Judge.from_assistant(assistant)
    records = ask_all(items, assistant, judge)
    settings = {"gold": str(args.gold), "questions": len(items), "model": assistant.generator.description,
                **_settings(args.set)}
    path, markdown = save(records, args.out, settings)
    print(markdown)
    print(f"wrote {path}")
    return 0


def _config(args) -> Config:
    """The config of --config FILE (else assistant.toml, if any), with the --set overrides."""
    config = Config.from_file(args.config) if args.config else Config.load()
    return config.replace(**_settings(getattr(args, "set", None)))


def _config_options(p) -> None:
    p.add_argument("--config", help="a TOML config file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")


def _settings(pairs) -> dict:
    """--set key=value pairs as config overrides, the value read as TOML ("3", "0.5", "true", '["support"]')."""
    import tomllib

    out = {}
    for pair in pairs or ():
        key, _, value = pair.partition("=")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def ablations(args) -> int:
    from pathlib import Path

    from .run import ablation_table, load_report

    try:
        reports = {Path(p).stem: load_report(p) for p in args.reports}
    except (OSError, ValueError) as exc:
        print(f"error: cannot read report: {exc}", file=sys.stderr)
        return 1
    print(ablation_table(reports, args.by_language))
    return 0


def compare_cmd(args) -> int:
    from .run import compare, load_report

    try:
        a, b = load_report(args.a), load_report(args.b)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read report: {exc}", file=sys.stderr)
        return 1
    print(compare(a, b))
    return 0


def judge_cmd(args) -> int:
    from collections import defaultdict
    from pathlib import Path

    from .judge import Judge, balanced_accuracy, calibrate, candidate_pairs, load_pairs

    if args.candidates:
        from .run import load_report

        try:
            report = load_report(args.candidates)
        except (OSError, ValueError) as exc:
            print(f"error: cannot read report: {exc}", file=sys.stderr)
            return 1
        for pair in candidate_pairs(report):
            print(json.dumps(pair, ensure_ascii=False))
        return 0
    try:
        pairs = [p for path in (args.pairs or ["evals/gold/support_pairs.jsonl"]) for p in load_pairs(path)]
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot read pairs file: {exc}", file=sys.stderr)
        return 1
    assistant = Assistant(Config.from_file(args.config) if args.config else Config.load())
    judge = Judge.from_assistant(assistant)
    groups = defaultdict(list)
    for p in pairs:
        groups["all"].append(p)
        groups[f"lang={p.lang}"].append(p)
        groups[f"origin={p.origin}"].append(p)
    print(f"judge (evals/judge.py): lexical_weight={judge.lexical_weight} threshold={judge.threshold}")
    print("| group | pairs | supported (label) | accuracy | precision | recall | false accepts | false rejects |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ps in groups.items():
        verdicts = [judge.supports(p.claim, p.premise, p.question) for p in ps]
        print(_verdict_row(name, ps, verdicts))
    if args.calibrate:
        w, t, score = calibrate(judge, pairs)
        print(f"\nbest on all pairs: lexical_weight={w} threshold={t} balanced accuracy={score:.3f}")
        # two-fold cross-validation: calibrate on one half (alternate pairs), measure on the other
        folds = [pairs[0::2], pairs[1::2]]
        verdicts, labels = [], []
        for i in (0, 1):
            w_i, t_i, _ = calibrate(judge, folds[i])
            tuned = judge.tuned(w_i, t_i)
            verdicts += [tuned.supports(p.claim, p.premise, p.question) for p in folds[1 - i]]
            labels += [p.label for p in folds[1 - i]]
        print(f"two-fold cross-validated balanced accuracy: {balanced_accuracy(verdicts, labels):.3f}")
    # the assistant's own verifier (assistant/cite.py) on the pairs that carry their question
    from .verifier import calibrate_verifier, most_accurate_verifier, verifier_parts, verifier_verdicts

    homes = {"outside": args.outside, "train": args.train}
    asked = [p for p in pairs if p.question and (p.corpus not in homes or homes[p.corpus])]
    if len(asked) < sum(1 for p in pairs if p.question):
        print("\n(pairs over the outside or training corpus are left out of the verifier's figures: pass --outside "
              "HOME / --train HOME)")
    if asked:
        config = assistant.config
        others = {name: Assistant(config.replace(corpus_dir=Path(home) / "corpus", index_dir=Path(home) / "index"))
                  for name, home in homes.items() if home}
        parts = verifier_parts(assistant, asked, others)
        print(f"\nverifier (assistant/cite.py): support_coverage={config.support_coverage} "
              f"support_threshold={config.support_threshold}, on the {len(asked)} pairs with a question")
        print("| group | pairs | supported (label) | accuracy | precision | recall | false accepts | false rejects |")
        print("|---|---|---|---|---|---|---|---|")
        verdicts = verifier_verdicts(parts, config.support_coverage, config.support_threshold)
        by_id = dict(zip((p.id for p in asked), verdicts))
        for name, ps in groups.items():
            ps = [p for p in ps if p.question]
            if ps:
                print(_verdict_row(name, ps, [by_id[p.id] for p in ps]))
        if args.calibrate:
            c, t, prec, rec = calibrate_verifier(parts, [p.label for p in asked])
            print(f"\nverifier, best recall at precision >= 0.95 on these pairs: support_coverage={c} "
                  f"support_threshold={t} (precision {prec:.3f}, recall {rec:.3f})")
            folds = [list(range(0, len(asked), 2)), list(range(1, len(asked), 2))]
            tp = fp = fn = 0
            for i in (0, 1):
                fit = [parts[j] for j in folds[i]]
                c_i, t_i, _, _ = calibrate_verifier(fit, [asked[j].label for j in folds[i]])
                test = folds[1 - i]
                got = verifier_verdicts([parts[j] for j in test], c_i, t_i)
                for j, v in zip(test, got):
                    tp += v and asked[j].label
                    fp += v and not asked[j].label
                    fn += (not v) and asked[j].label
            print(f"two-fold cross-validated: precision {tp / max(1, tp + fp):.3f}, recall {tp / max(1, tp + fn):.3f}")
            c, t, acc = most_accurate_verifier(parts, [p.label for p in asked])
            print(f"verifier, most accurate on these pairs: support_coverage={c} support_threshold={t} "
                  f"(accuracy {acc:.3f})")
    return 0


def shown_cmd(args) -> int:
    """Per report: the share of answerable questions whose gold sentence was shown to the reader, and the answers'
    alias / lenient / F1 when it was and when it was not (what the reader does with the right sentence)."""
    from pathlib import Path

    from .metrics import gold_shown
    from .run import Record, load_report

    gold = {g.id: g for g in load_gold(args.gold)}
    corpus = Path(args.corpus)
    for path in args.reports:
        try:
            report = load_report(path)
        except (OSError, ValueError) as exc:
            print(f"error: cannot read report: {exc}", file=sys.stderr)
            return 1
        known = {f.name for f in Record.__dataclass_fields__.values()}
        rows = {True: [], False: []}
        for r in (Record(**{k: v for k, v in row.items() if k in known}) for row in report["records"]):
            g = gold.get(r.id)
            if g is None or not g.answerable:
                continue
            article = (corpus / g.source).read_text(encoding="utf-8") if (corpus / g.source).is_file() else ""
            rows[gold_shown(r.evidence, article, g.evidence or "")].append(r)
        n = sum(len(v) for v in rows.values()) or 1

        def figures(rs) -> str:
            m = len(rs) or 1
            return (f"alias {sum(bool(r.str_em) for r in rs) / m:.3f}, lenient "
                    f"{sum(bool(r.lenient) for r in rs) / m:.3f}, F1 {sum(r.f1 or 0.0 for r in rs) / m:.3f}, "
                    f"refused {sum(r.refused for r in rs)} ({len(rs)})")

        print(f"{path}: gold sentence shown {len(rows[True])}/{n} = {len(rows[True]) / n:.3f}; shown: "
              f"{figures(rows[True])}; not shown: {figures(rows[False])}")
    return 0


def rescore_cmd(args) -> int:
    from .run import load_report, rescore

    try:
        report = load_report(args.report)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read report: {exc}", file=sys.stderr)
        return 1
    out = json.dumps(rescore(report, load_gold(args.gold)), ensure_ascii=False, indent=1)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(out, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(out)
    return 0


def fit_cmd(args) -> int:
    from pathlib import Path

    from .fit import fit_answerability, fit_retrieval, fit_support, measure_names

    home = Path(args.home)
    if not (home / "corpus").is_dir():
        print(f"error: {home}/corpus is not a folder: copy ../shared/train/corpus there", file=sys.stderr)
        return 1
    if args.what == "answerability":
        fit_answerability(home, args.train, args.translated or [], args.cache, args.answerable_refused,
                          Path(args.out))
    elif args.what == "support":
        fit_support(home, args.train, args.translated or [], args.answerable_refused, args.per_kind)
    elif args.what == "retrieval":
        fit_retrieval(home, args.train, args.translated or [], args.per_kind)
    else:
        measure_names(home, args.train, args.translated or [])
    return 0


def _verdict_row(name, ps, verdicts) -> str:
    fa = sum(v and not p.label for v, p in zip(verdicts, ps))
    fr = sum(p.label and not v for v, p in zip(verdicts, ps))
    tp = sum(v and p.label for v, p in zip(verdicts, ps))
    acc = sum(v == p.label for v, p in zip(verdicts, ps)) / len(ps)
    precision = f"{tp / (tp + fa):.3f}" if tp + fa else "-"
    recall = f"{tp / (tp + fr):.3f}" if tp + fr else "-"
    return f"| {name} | {len(ps)} | {sum(p.label for p in ps)} | {acc:.3f} | {precision} | {recall} | {fa} | {fr} |"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("retrieval", help="recall@1/3/5 and MRR of retrieval on a gold file")
    p.add_argument("--gold", default="evals/gold/dev.jsonl")
    p.add_argument("--mode", choices=RETRIEVAL_MODES + ("all",), default="hybrid")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--config", help="a TOML config file (default: assistant.toml in the current folder, if any)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="list the questions missed in the top 3")
    p = sub.add_parser("evidence", help="where the gold sentence ranks among the evidence sentences, per language")
    p.add_argument("--gold", default="evals/gold/dev.jsonl")
    p.add_argument("--depth", type=int, default=10, help="evidence sentences to rank (default 10)")
    p.add_argument("--config", help="a TOML config file")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="list the questions whose gold sentence is not first")
    p = sub.add_parser("run", help="ask every gold question; write a JSON report and a Markdown summary")
    p.add_argument("--gold", default="evals/gold/dev.jsonl")
    p.add_argument("--out", required=True, help="where to write the JSON report (the .md goes beside it)")
    p.add_argument("--config", help="a TOML config file")
    p.add_argument("--retrieval", choices=RETRIEVAL_MODES, help="override retrieval_mode")
    p.add_argument("--answer", choices=ANSWER_MODES, help="override answer_mode")
    p.add_argument("--k", type=int, help="override k (passages retrieved)")
    p.add_argument("--model", help="a reader name or a GGUF file instead of the configured one")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--cache", help="remember the reader's replies in this file and reuse them (JSON lines)")
    p.add_argument("--no-judge", action="store_true", help="skip citation recall and precision (faster)")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions")
    p.add_argument("--ids", help="only these question ids, comma-separated")
    p = sub.add_parser("languages", help="is each question's language named right, and which are answered")
    p.add_argument("--gold", default="evals/gold/languages.jsonl")
    _config_options(p)
    p = sub.add_parser("redteam", help="articles that try to command the reader: how many attacks succeed")
    p.add_argument("--gold", default="evals/gold/redteam.jsonl")
    p.add_argument("--out", required=True, help="where to write the JSON report (the .md goes beside it)")
    p.add_argument("--home", help="an empty folder for the attacked corpus and its index (default: a temporary one)")
    _config_options(p)
    p = sub.add_parser("natural", help="ask natural questions with nuggets; nugget recall per kind and language")
    p.add_argument("--gold", default="../shared/natural/natural.jsonl")
    p.add_argument("--out", required=True, help="where to write the JSON report (the .md goes beside it)")
    _config_options(p)
    p.add_argument("--cache", help="remember the reader's replies in this file and reuse them (JSON lines)")
    p.add_argument("--no-judge", action="store_true", help="skip the support judge (faster)")
    p.add_argument("--ids", help="only these question ids, comma-separated")
    p = sub.add_parser("ablations", help="one table row per report, for comparing configurations")
    p.add_argument("reports", nargs="+")
    p.add_argument("--by-language", action="store_true", help="also a row per question language")
    p = sub.add_parser("compare", help="what changed between two reports")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("shown", help="was the gold sentence shown, and how the answers fare when it was and was not")
    p.add_argument("reports", nargs="+")
    p.add_argument("--gold", required=True, help="the gold file the reports were run on")
    p.add_argument("--corpus", default="corpus", help="the folder of the articles the reports were run over")
    p = sub.add_parser("rescore", help="score a report's answers again with today's metrics (nothing is asked)")
    p.add_argument("report")
    p.add_argument("--gold", required=True, help="the gold file the report was run on")
    p.add_argument("--out", help="write the rescored report here (default: print it)")
    p = sub.add_parser("fit", help="fit a tuned value on the training set (evals/fit.py)")
    p.add_argument("what", choices=("answerability", "support", "names", "retrieval"))
    p.add_argument("--home", required=True, help="a folder whose corpus/ is a copy of ../shared/train/corpus")
    p.add_argument("--train", default="../shared/train/train.jsonl")
    p.add_argument("--translated", action="append", help="more training questions (e.g. machine-translated ones)")
    p.add_argument("--cache", help="remember the reader's replies in this file and reuse them (JSON lines)")
    p.add_argument("--answerable-refused", type=float, default=0.04,
                   help="the share of answerable questions the chosen threshold may refuse (default 0.04)")
    p.add_argument("--per-kind", type=int, default=300, help="support, retrieval: questions per kind and part (default 300)")
    p.add_argument("--out", default="assistant/data/answerability.json")
    p = sub.add_parser("judge", help="accuracy of the support judge on hand-labelled pairs")
    p.add_argument("--pairs", action="append", help="labelled pairs, JSON lines (repeatable; default: "
                   "evals/gold/support_pairs.jsonl)")
    p.add_argument("--outside", metavar="HOME", help="a folder whose corpus/ is ../shared/outside/corpus: the "
                   "verifier reads the pairs marked corpus=outside with its index")
    p.add_argument("--train", metavar="HOME", help="a folder whose corpus/ is ../shared/train/corpus, for the pairs "
                   "marked corpus=train")
    p.add_argument("--config", help="a TOML config file")
    p.add_argument("--calibrate", action="store_true", help="also search the judge's weight and threshold")
    p.add_argument("--candidates", metavar="REPORT", help="print unlabelled pairs from an eval report instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="evals: %(message)s")
    try:
        return {"retrieval": retrieval, "evidence": evidence, "run": run, "compare": compare_cmd,
                "ablations": ablations, "judge": judge_cmd, "fit": fit_cmd,
                "rescore": rescore_cmd, "shown": shown_cmd, "natural": natural_cmd,
                "redteam": redteam_cmd, "languages": languages_cmd}[args.command](args)
    except (AssistantError, GoldError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
