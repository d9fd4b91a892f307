"""Natural questions with nuggets: ask them, and say how much of each expected answer the assistant gave.

    python -m evals natural --gold ../shared/natural/natural.jsonl --out evals/results/natural.json
    python -m evals natural --gold evals/gold/natural_outside.jsonl --out ... (ASSISTANT_HOME: the outside documents)

A nugget file is JSON Lines with `id`, `lang`, `kind`, `question`, `answerable`, `nuggets` (each nugget a list of
short aliases in any language) and, optionally, `sources` and `evidence`. An answer covers a nugget when one alias
occurs in it, case- and accent-folded (../shared/natural/README.md). Reported per kind and per language: nugget
recall, share of answerable questions with every nugget covered, answerable and unanswerable refused, answer
sentences supported by what they cite (the support judge, judge.py: ALCE citation recall) and citation precision,
citations whose offsets do not give back their sentence, first token and total p50.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant import Assistant
from assistant.lang import fold

from .gold import GoldError, json_rows
from .judge import Judge
from .metrics import alce, percentile
from .run import ask_each

__all__ = ["NuggetItem", "load_nuggets", "covered", "ask_all", "summarise", "to_markdown"]

_KEYS = {"id", "lang", "kind", "question", "answerable", "nuggets"}


@dataclass(frozen=True)
class NuggetItem:
    id: str
    lang: str
    kind: str
    question: str
    answerable: bool
    nuggets: tuple[tuple[str, ...], ...]


def load_nuggets(path: str | Path) -> list[NuggetItem]:
    items = []
    for n, row in json_rows(path, "nugget file"):
        if not isinstance(row, dict) or not _KEYS <= set(row):
            raise GoldError(f"{path}:{n}: needs the keys {', '.join(sorted(_KEYS))}")
        nuggets = row["nuggets"]
        if row["answerable"] != bool(nuggets) or not all(isinstance(a, list) and a for a in nuggets):
            raise GoldError(f"{path}:{n}: an answerable question needs nuggets (lists of aliases), others none")
        items.append(NuggetItem(row["id"], row["lang"], row["kind"], row["question"], row["answerable"],
                                tuple(tuple(a) for a in nuggets)))
    return items


def covered(answer: str, nuggets) -> list[bool]:
    """For each nugget: does one of its aliases occur in `answer` (case- and accent-folded)?"""
    text = fold(answer)
    return [any(fold(alias) in text for alias in aliases) for aliases in nuggets]


@dataclass
class NuggetRecord:
    id: str
    lang: str
    kind: str
    question: str
    answerable: bool
    answer: str = ""
    mode: str = "error"
    refused: bool = False
    reason: str = ""
    covered: list[bool] = field(default_factory=list)
    supported: float | None = None  # share of answer sentences the judge finds supported by what they cite
    precision: float | None = None  # ALCE citation precision
    bad_offsets: int = 0  # citations whose article text at (start, end) is not their sentence
    citations: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    draft: str = ""
    dropped: list = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # the numbered sentences the reader was shown
    kind_found: str = ""  # the kind the assistant gave the question (kinds.py), beside the gold `kind`
    error: str | None = None

    @property
    def recall(self) -> float | None:
        return sum(self.covered) / len(self.covered) if self.covered else None


def _record(q: NuggetItem, answer, assistant: Assistant, judge: Judge | None) -> NuggetRecord:
    rec = NuggetRecord(q.id, q.lang, q.kind, q.question, q.answerable, answer.text, answer.mode, answer.refused,
                       answer.refusal_reason, timings={k: round(v, 4) for k, v in answer.timings.items()},
                       draft=answer.raw, dropped=[list(d) for d in answer.dropped],
                       evidence=[ev.text for ev in answer.evidence], kind_found=answer.kind,
                       citations=[{"number": c.number, "source": c.source, "start": c.start, "end": c.end,
                                   "text": c.text} for c in answer.citations])
    if q.answerable:
        rec.covered = [False] * len(q.nuggets) if answer.refused else covered(answer.text, q.nuggets)
    for c in answer.citations:
        article = assistant.article(c.source)
        rec.bad_offsets += article is None or article.text[c.start:c.end] != c.text
    if judge is not None and not answer.refused:
        scores = alce(answer.text, [c.text for c in answer.citations],
                      lambda claim, premise: judge.supports(claim, premise, answer.question), answer.language)
        rec.supported, rec.precision = (round(x, 4) for x in scores)
    return rec


def ask_all(items: list[NuggetItem], assistant: Assistant, judge: Judge | None = None,
            progress: bool = True) -> list[NuggetRecord]:
    return ask_each(items, lambda q: _record(q, assistant.ask(q.question), assistant, judge),
                    lambda q, seconds, error: NuggetRecord(q.id, q.lang, q.kind, q.question, q.answerable,
                                                           timings={"total": seconds}, error=error),
                    progress)


def summarise(records: list[NuggetRecord]) -> dict[str, dict]:
    groups: dict[str, list[NuggetRecord]] = {"all": list(records)}
    for r in records:
        groups.setdefault(f"kind={r.kind}", []).append(r)
        groups.setdefault(f"lang={r.lang}", []).append(r)
    out = {}
    for name in sorted(groups, key=lambda n: (n != "all", n)):
        rs = groups[name]
        ans, una = [r for r in rs if r.answerable], [r for r in rs if not r.answerable]
        judged = [r for r in rs if r.supported is not None]
        out[name] = {
            "n": len(rs), "answerable": len(ans), "unanswerable": len(una),
            "errors": sum(r.error is not None for r in rs),
            "nugget_recall": sum(r.recall or 0.0 for r in ans) / len(ans) if ans else None,
            "all_nuggets": sum(all(r.covered) and bool(r.covered) for r in ans) / len(ans) if ans else None,
            "answerable_refused": sum(r.refused for r in ans),
            "unanswerable_refused": sum(r.refused for r in una),
            "generated": sum(r.mode == "generated" for r in rs),
            "supported": sum(r.supported for r in judged) / len(judged) if judged else None,
            "citation_precision": sum(r.precision for r in judged) / len(judged) if judged else None,
            "bad_offsets": sum(r.bad_offsets for r in rs),
            "first_token_p50": percentile([r.timings["first_token"] for r in rs if "first_token" in r.timings], .5),
            "total_p50": percentile([r.timings["total"] for r in rs if "total" in r.timings], .5),
        }
    return out


def _fmt(v, digits=2) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def to_markdown(summary: dict[str, dict], title: str) -> str:
    cols = ("n", "nugget_recall", "all_nuggets", "answerable_refused", "unanswerable_refused", "supported",
            "citation_precision", "bad_offsets", "first_token_p50", "total_p50")
    lines = [f"# {title}", "", "| group | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, s in summary.items():
        cells = [f"{s[c]}/{s['answerable']}" if c == "answerable_refused" else
                 f"{s[c]}/{s['unanswerable']}" if c == "unanswerable_refused" else _fmt(s[c]) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save(records: list[NuggetRecord], path: str | Path, settings: dict) -> tuple[Path, str]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = summarise(records)
    path.write_text(json.dumps({"settings": settings, "summary": summary,
                                "records": [{**asdict(r), "recall": r.recall} for r in records]},
                               ensure_ascii=False, indent=1), encoding="utf-8")
    markdown = to_markdown(summary, path.stem)
    path.with_suffix(".md").write_text(markdown, encoding="utf-8")
    return path, markdown
