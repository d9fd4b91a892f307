"""Ask ../shared/natural (questions the way readers ask, with nuggets) over corpus/ and print nugget recall:

    python -m evals.natural OUT.json [--natural ../shared/natural/natural.jsonl] [--index DIR]

An answer covers a nugget when one of its aliases occurs in it, case- and accent-folded (the set's README). A check,
never tuned on.
"""

from __future__ import annotations

import argparse
import json

from assistant import Assistant, Config
from assistant.lang import fold


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--natural", default="../shared/natural/natural.jsonl")
    p.add_argument("--index", help="an index folder for corpus/ (default: the configured one)")
    args = p.parse_args()
    config = Config.load(**({"index_dir": args.index} if args.index else {}))
    assistant, rows = Assistant(config), []
    for line in open(args.natural, encoding="utf-8"):
        q = json.loads(line)
        r = assistant.ask(q["question"])
        covered = [any(fold(alias) in fold(r.text) for alias in n) for n in q["nuggets"]] if q["answerable"] else []
        rows.append({"id": q["id"], "lang": q["lang"], "kind": q["kind"], "answerable": q["answerable"],
                     "mode": r.mode, "refused": r.refused, "text": r.text, "reason": r.refusal_reason,
                     "nuggets": sum(covered) / len(covered) if covered else None})
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(rows, fh, ensure_ascii=False, indent=1)
    ans, un = [r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]
    print(f"answerable {len(ans)}: nugget recall {sum(r['nuggets'] for r in ans) / max(1, len(ans)):.3f}, "
          f"all nuggets {sum(r['nuggets'] == 1 for r in ans)}, generated {sum(r['mode'] == 'generated' for r in ans)}, "
          f"refused {sum(r['refused'] for r in ans)}; unanswerable refused {sum(r['refused'] for r in un)}/{len(un)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
