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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="evals: %(message)s")
    try:
        return retrieval(args)
    except (AssistantError, GoldError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
