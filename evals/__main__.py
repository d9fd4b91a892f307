"""`python -m evals retrieval --gold evals/gold/dev.jsonl [--mode dense|bm25|hybrid|all] [--config FILE]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from assistant import Assistant, AssistantError, Config

from .gold import GoldError, load_gold
from .metrics import retrieval_rank, retrieval_summary

MODES = ("dense", "bm25", "hybrid")


def retrieval(args) -> int:
    gold = [g for g in load_gold(args.gold) if g.answerable]
    assistant = Assistant(Config.from_file(args.config) if args.config else Config.load(), progress=False)
    modes = MODES if args.mode == "all" else (args.mode,)
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


def answers(args) -> int:
    import statistics

    from .answers import alias_hit, citation_has_evidence

    gold = load_gold(args.gold)
    if args.limit:
        gold = gold[: args.limit]
    config = Config.from_file(args.config) if args.config else Config.load()
    if args.answer:
        config = config.replace(answer_mode=args.answer)
    assistant = Assistant(config, progress=False)
    groups: dict[str, dict] = {}
    totals = []
    for g in gold:
        a = assistant.ask(g.question)
        totals.append(a.timings["total"])
        hit = g.answerable and not a.refused and alias_hit(a.text, g.answers, g.lang)
        cites = [citation_has_evidence(c, a.passages, g.evidence) for c in a.citations] if g.answerable else []
        for key in ("all", f"lang={g.lang}", f"mode={a.mode}"):
            s = groups.setdefault(key, {"n": 0, "answerable": 0, "hits": 0, "false_refusals": 0, "unanswerable": 0,
                                        "refused_unanswerable": 0, "citations": 0, "cited_evidence": 0})
            s["n"] += 1
            s["answerable"] += g.answerable
            s["hits"] += hit
            s["false_refusals"] += g.answerable and a.refused
            s["unanswerable"] += not g.answerable
            s["refused_unanswerable"] += (not g.answerable) and a.refused
            s["citations"] += len(cites)
            s["cited_evidence"] += sum(cites)
        if args.verbose:
            print(f"{g.id} [{a.mode}] {'HIT ' if hit else '    '}{g.question} -> {a.text[:120]}", file=sys.stderr)
    print("| group | n | answer has alias | citations with evidence | unanswerable refused | answerable refused |")
    print("|---|---|---|---|---|---|")
    for key, s in groups.items():
        share = f"{s['hits'] / s['answerable']:.3f} ({s['hits']}/{s['answerable']})" if s["answerable"] else "-"
        cited = f"{s['cited_evidence'] / s['citations']:.3f} ({s['cited_evidence']}/{s['citations']})" if s["citations"] else "-"
        print(f"| {key} | {s['n']} | {share} | {cited} | {s['refused_unanswerable']}/{s['unanswerable']} | "
              f"{s['false_refusals']}/{s['answerable']} |")
    totals.sort()
    print(f"\nlatency per question: p50 {statistics.median(totals):.2f} s, p95 {totals[int(0.95 * (len(totals) - 1))]:.2f} s")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("retrieval", help="recall@1/3/5 and MRR of retrieval on a gold file")
    p.add_argument("--gold", default="evals/gold/dev.jsonl")
    p.add_argument("--mode", choices=MODES + ("all",), default="hybrid")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--config", help="a TOML config file (default: assistant.toml in the current folder, if any)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="list the questions missed in the top 3")
    p = sub.add_parser("answers", help="answer quality: alias hits, citation evidence, refusals, per language and mode")
    p.add_argument("--gold", default="evals/gold/dev.jsonl")
    p.add_argument("--config", help="a TOML config file")
    p.add_argument("--answer", choices=("auto", "generated", "extractive"), help="override answer_mode")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="evals: %(message)s")
    try:
        return retrieval(args) if args.command == "retrieval" else answers(args)
    except (AssistantError, GoldError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
