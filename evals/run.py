"""Batch evaluation: run every gold question through an `Assistant`, score it, summarise, compare runs.

`evaluate(gold, assistant)` returns a `Report`: one `Record` per question (question, answer, citations, mode,
refusal, metric values, timings, or the error that stopped that question) and a summary per group ("all",
"lang=en", "mode=extractive", ...). Metric definitions are in `metrics.py`. A failure on one question is recorded
and the run goes on; only a run that cannot start (unreadable gold file, no index, no model) raises.

`Report.save` writes the JSON report, a Markdown summary and a PNG chart of the main metrics per language.

Citation recall and precision (ALCE) use the support judge of judge.py, on the assistant's own embedder. They are
measured twice: on the final answer, and on the model's unverified draft against the numbered evidence it was shown
(the draft figures say how much verification had to remove).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from assistant import Assistant, AssistantError
from assistant.lang import detect_language

from .gold import GoldItem
from .judge import Judge
from .metrics import (alce, citation_has_evidence, lenient, mrr, percentile, recall_at, retrieval_rank, str_em,
                      token_f1)

__all__ = ["Record", "Report", "evaluate", "ask_each", "summarise", "to_markdown", "compare", "load_report", "ablation_table",
           "rescore"]


@dataclass
class Record:
    id: str
    lang: str
    question: str
    answerable: bool
    answer: str = ""
    mode: str = "error"
    refused: bool = False
    citations: list[dict] = field(default_factory=list)
    rank: int | None = None  # retrieval rank of the gold evidence (answerable items)
    str_em: bool = False
    f1: float = 0.0
    lenient: bool = False  # metrics.lenient: inside a gold answer, holding one, or its content words
    evidence_hits: int = 0  # citations whose passage holds the gold evidence
    citation_recall: float | None = None  # ALCE, by the support judge; None for refusals and errors
    citation_precision: float | None = None
    draft_citation_recall: float | None = None  # the same on the model's unverified draft (None: no draft)
    draft_citation_precision: float | None = None
    draft: str = ""  # the model's unverified text
    evidence: list[str] = field(default_factory=list)  # the numbered sentences the model was shown
    tokens: int = 0  # tokens the model generated
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    refusal_reason: str = ""
    abstain_probability: float | None = None  # the reader's P(no answer) at its first token
    answer_language: str | None = None  # detected from the text of an answer or quote; None when it gives no signal
    dropped: list = field(default_factory=list)  # [sentence, rule] that verification removed from the draft
    answerability: dict = field(default_factory=dict)  # the answerability model's probability and features


@dataclass
class Report:
    records: list[Record]
    summary: dict[str, dict]
    settings: dict

    def to_dict(self) -> dict:
        return {"settings": self.settings, "summary": self.summary, "records": [asdict(r) for r in self.records]}

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write `path` (JSON), and beside it the Markdown summary (.md) and the chart (.png)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        md = path.with_suffix(".md")
        md.write_text(to_markdown(self), encoding="utf-8")
        chart(self.summary, path.with_suffix(".png"), title=path.stem)
        return path, md


def _score(g: GoldItem, answer, judge: Judge | None) -> Record:
    rec = Record(g.id, g.lang, g.question, g.answerable, answer.text, answer.mode, answer.refused,
                 [{"number": c.number, "source": c.source, "start": c.start, "end": c.end, "text": c.text}
                  for c in answer.citations], draft=answer.raw, evidence=[ev.text for ev in answer.evidence],
                 tokens=answer.tokens, timings={k: round(v, 4) for k, v in answer.timings.items()},
                 refusal_reason=answer.refusal_reason, abstain_probability=answer.abstain_probability,
                 dropped=[list(d) for d in answer.dropped], answerability=answer.answerability)
    if answer.mode != "refused":  # a quote, too: in the article's language, or translated for the asker
        rec.answer_language = detect_language(answer.text, default=None)
    if g.answerable:
        rec.rank = retrieval_rank(answer.passages, g.source, g.evidence)
        if not answer.refused:
            rec.str_em = str_em(answer.text, g.answers, g.lang)
            rec.f1 = round(token_f1(answer.text, g.answers, g.lang), 4)
            rec.lenient = lenient(answer.text, g.answers, g.lang)
        rec.evidence_hits = sum(citation_has_evidence(c, answer.passages, g.evidence) for c in answer.citations)
    if judge is None:  # citation recall and precision not asked for
        return rec
    supports = lambda claim, premise: judge.supports(claim, premise, answer.question)  # noqa: E731
    scores = alce(answer.text, [c.text for c in answer.citations], supports, answer.language, answer.refused)
    if scores is not None:
        rec.citation_recall, rec.citation_precision = (round(x, 4) for x in scores)
    if answer.raw:  # what verification had to work with: the draft's markers point into the evidence list
        draft = alce(answer.raw, [ev.text for ev in answer.evidence], supports, answer.language)
        rec.draft_citation_recall, rec.draft_citation_precision = (round(x, 4) for x in draft)
    return rec


def evaluate(gold: Sequence[GoldItem], assistant: Assistant, *, progress: bool = True,
             settings: dict | None = None, judge: Judge | None | bool = None) -> Report:
    """Ask every question; see the module docstring. `judge` defaults to the calibrated judge on the assistant's
    embedder; False skips citation recall and precision (the judge embeds every word it reads: a quick run)."""
    judge = None if judge is False else (judge or Judge.from_assistant(assistant))
    records = ask_each(gold, lambda g: _score(g, assistant.ask(g.question), judge),
                       lambda g, seconds, error: Record(g.id, g.lang, g.question, g.answerable,
                                                        timings={"total": seconds}, error=error),
                       progress, "evaluating")
    return Report(records, summarise(records), settings or {})


def ask_each(items: Sequence, record, failed, progress: bool = True, desc: str = "asking") -> list:
    """`record(item)` for each item, with a progress bar; a question that fails becomes `failed(item, seconds,
    "<Error>: message")` and the run goes on."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), desc=desc, unit="question", disable=None)
    records = []
    for item in items:
        t0 = time.perf_counter()
        try:
            records.append(record(item))
        except (AssistantError, RuntimeError, ValueError, OSError) as exc:
            records.append(failed(item, round(time.perf_counter() - t0, 4), f"{type(exc).__name__}: {exc}"))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return records


def summarise(records: Sequence[Record]) -> dict[str, dict]:
    groups: dict[str, list[Record]] = {"all": list(records)}
    for r in records:
        groups.setdefault(f"lang={r.lang}", []).append(r)
        groups.setdefault(f"mode={r.mode}", []).append(r)
    out = {}
    for name in sorted(groups, key=lambda n: (n != "all", n)):
        rs = groups[name]
        ans = [r for r in rs if r.answerable]
        una = [r for r in rs if not r.answerable]
        ranks = [r.rank for r in ans]
        n_cit = sum(len(r.citations) for r in ans)
        totals = [r.timings.get("total", 0.0) for r in rs if not r.error]
        firsts = [r.timings["first_token"] for r in rs if "first_token" in r.timings]
        retrieves = [r.timings["retrieve"] for r in rs if "retrieve" in r.timings]
        scored = [r for r in rs if r.citation_recall is not None]
        drafted = [r for r in rs if r.draft_citation_recall is not None]
        generation = sum(r.timings.get("generation", 0.0) for r in rs)
        generated = [r for r in rs if r.mode == "generated"]
        detected = [r for r in generated if r.answer_language]
        shown = [r for r in rs if r.mode in ("generated", "extractive") and r.answer_language]
        out[name] = {
            "n": len(rs),
            "answerable": len(ans),
            "unanswerable": len(una),
            "errors": sum(1 for r in rs if r.error),
            "recall@1": recall_at(ranks, 1), "recall@3": recall_at(ranks, 3), "recall@5": recall_at(ranks, 5),
            "mrr": mrr(ranks),
            "str_em": sum(r.str_em for r in ans) / len(ans) if ans else None,
            "generated_share": sum(r.mode == "generated" for r in ans) / len(ans) if ans else None,
            "str_em_generated": (sum(r.str_em for r in ans if r.mode == "generated")
                                 / max(1, sum(r.mode == "generated" for r in ans))) if ans else None,
            "language_match": (sum(r.answer_language == r.lang for r in detected) / len(detected)
                               if detected else None),
            "language_detected": len(detected),
            "language_match_shown": (sum(r.answer_language == r.lang for r in shown) / len(shown)
                                     if shown else None),  # every answer shown, quotes included
            "f1": sum(r.f1 for r in ans) / len(ans) if ans else None,
            "lenient": sum(r.lenient for r in ans) / len(ans) if ans else None,
            "evidence_precision": sum(r.evidence_hits for r in ans) / n_cit if n_cit else None,
            "citation_recall": sum(r.citation_recall for r in scored) / len(scored) if scored else None,
            "citation_precision": sum(r.citation_precision for r in scored) / len(scored) if scored else None,
            "draft_citation_recall": sum(r.draft_citation_recall for r in drafted) / len(drafted) if drafted else None,
            "draft_citation_precision": (sum(r.draft_citation_precision for r in drafted) / len(drafted)
                                         if drafted else None),
            "unanswerable_refused": sum(r.refused for r in una),
            "answerable_refused": sum(r.refused for r in ans),
            "latency": {"retrieve_p50": percentile(retrieves, .5), "first_token_p50": percentile(firsts, .5),
                        "first_token_p95": percentile(firsts, .95), "total_p50": percentile(totals, .5),
                        "total_p95": percentile(totals, .95),
                        "tokens_per_s": sum(r.tokens for r in rs) / generation if generation else None},
        }
    return out


_CHART_METRICS = (("recall@3", "recall@3"), ("str_em", "STR-EM"), ("evidence_precision", "evidence precision"),
                  ("citation_recall", "citation recall"), ("refusal", "unanswerable refused"))


def chart(summary: dict[str, dict], path: Path, title: str = "") -> Path:
    """Grouped bars: the main metrics (0..1) for "all" and each language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = ["all"] + sorted(g for g in summary if g.startswith("lang="))
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    width = 0.8 / len(_CHART_METRICS)
    for i, (key, label) in enumerate(_CHART_METRICS):
        values = []
        for g in groups:
            m = summary[g]
            if key == "refusal":
                values.append(m["unanswerable_refused"] / m["unanswerable"] if m["unanswerable"] else 0.0)
            elif key.startswith("recall"):
                values.append(m[key] if m["answerable"] else 0.0)
            else:
                values.append(m.get(key) or 0.0)
        ax.bar([x + i * width for x in range(len(groups))], values, width, label=label)
    ax.set_xticks([x + width * (len(_CHART_METRICS) - 1) / 2 for x in range(len(groups))],
                  [g.replace("lang=", "") for g in groups])
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def to_markdown(report: Report) -> str:
    lines = ["| group | n | alias in answer | lenient | token F1 | generated | alias, generated | answer language | "
             "quotes too | citation recall / "
             "precision | evidence precision | recall@3 | unanswerable refused | answerable refused | errors | "
             "first token p50 (s) | total p50 / p95 (s) | tokens/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in report.summary.items():
        lat = m["latency"]
        lines.append(
            f"| {name} | {m['n']} | {_fmt(m['str_em'])} | {_fmt(m.get('lenient'))} | {_fmt(m.get('f1'))} | "
            f"{_fmt(m.get('generated_share'))} | "
            f"{_fmt(m.get('str_em_generated'))} | {_fmt(m.get('language_match'))} ({m.get('language_detected', 0)}) | "
            f"{_fmt(m.get('language_match_shown'))} | "
            f"{_fmt(m.get('citation_recall'))} / {_fmt(m.get('citation_precision'))} | "
            f"{_fmt(m['evidence_precision'])} | {_fmt(m['recall@3'] if m['answerable'] else None)} | "
            f"{m['unanswerable_refused']}/{m['unanswerable']} | {m['answerable_refused']}/{m['answerable']} | "
            f"{m['errors']} | {lat['first_token_p50']:.2f} | {lat['total_p50']:.2f} / {lat['total_p95']:.2f} | "
            f"{_fmt(lat.get('tokens_per_s'), 1)} |")
    reasons: dict[str, list[int]] = {}
    for r in report.records:
        if r.refused:
            key = (r.refusal_reason or "unknown").split(":")[0]
            reasons.setdefault(key, [0, 0])[0 if r.answerable else 1] += 1
    if reasons:
        lines += ["", "Refusals by reason (answerable / unanswerable): "
                  + ", ".join(f"{k} {a}/{u}" for k, (a, u) in sorted(reasons.items()))]
    lines += ["", "alias in answer: a gold answer string occurs in the answer (answerable questions); lenient: the answer "
              "is inside a gold answer, holds one, or holds its content words (metrics.py); generated: share "
              "of answerable questions answered by the reader (not quoted, not refused); answer language: share of "
              "generated answers whose detected language is the question's (in brackets, how many gave a signal); quotes "
              "too: the same share over every answer shown, quoted sentences included."]
    if report.settings:
        lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in report.settings.items())]
    return "\n".join(lines) + "\n"


def load_report(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def rescore(report: dict, gold: Sequence[GoldItem]) -> dict:
    """`report` with its answers scored again by today's metrics against `gold` (a report written before a metric
    existed, or before its gold answers were extended); nothing is asked again."""
    by_id = {g.id: g for g in gold}
    known = {f.name for f in Record.__dataclass_fields__.values()}
    records = []
    for row in report["records"]:
        rec = Record(**{k: v for k, v in row.items() if k in known})
        if rec.mode in ("generated", "extractive") and not rec.error:  # quotes were not read before 2026-12-08
            rec.answer_language = detect_language(rec.answer, default=None)
        g = by_id.get(rec.id)
        if g is not None and g.answerable and not rec.refused and not rec.error:
            rec.str_em = str_em(rec.answer, g.answers, g.lang)
            rec.f1 = round(token_f1(rec.answer, g.answers, g.lang), 4)
            rec.lenient = lenient(rec.answer, g.answers, g.lang)
        records.append(rec)
    return {"settings": report.get("settings", {}), "summary": summarise(records),
            "records": [asdict(r) for r in records]}


def _outcome(record: dict) -> str:
    if record.get("error"):
        return "error"
    if not record["answerable"]:
        return "refused" if record["refused"] else "answered (should refuse)"
    return "refused" if record["refused"] else ("correct" if record["str_em"] else "wrong")


def compare(a: dict, b: dict) -> str:
    """Deltas of the main overall metrics, then the questions whose outcome changed from run A to run B."""
    keys = ("recall@3", "mrr", "str_em", "lenient", "f1", "evidence_precision", "citation_recall", "citation_precision",
            "draft_citation_recall", "draft_citation_precision", "unanswerable_refused", "answerable_refused")
    lines = ["| metric | A | B | B - A |", "|---|---|---|---|"]
    for k in keys:
        va, vb = a["summary"]["all"].get(k), b["summary"]["all"].get(k)
        delta = "-" if va is None or vb is None else f"{vb - va:+.3f}"
        lines.append(f"| {k} | {_fmt(va) if isinstance(va, float) else va} | "
                     f"{_fmt(vb) if isinstance(vb, float) else vb} | {delta} |")
    before = {r["id"]: r for r in a["records"]}
    flips = []
    for r in b["records"]:
        old = before.get(r["id"])
        if old and _outcome(old) != _outcome(r):
            flips.append(f"- {r['id']}: {_outcome(old)} -> {_outcome(r)}  ({r['question']})")
    lines += ["", f"{len(flips)} question(s) changed outcome:"] + flips
    return "\n".join(lines) + "\n"


def ablation_table(reports: dict[str, dict], groups: bool = False) -> str:
    """One row per run (name -> loaded report), and with `groups` one per language too: the side-by-side tables of
    the README and docs/evaluation.md."""
    lines = ["| run | questions | alias in answer | lenient | token F1 | generated | answer language | quotes too | "
             "citation recall / precision | evidence precision | unanswerable refused | answerable refused | "
             "first token p50 (s) | total p50 / p95 (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, rep in reports.items():
        for group, m in rep["summary"].items():
            if group != "all" and not (groups and group.startswith("lang=")):
                continue
            lat = m["latency"]
            label = name if group == "all" else f"{name}, {group[5:]}"
            lines.append(
                f"| {label} | {m['n']} | {_fmt(m['str_em'])} | {_fmt(m.get('lenient'))} | {_fmt(m.get('f1'))} | "
                f"{_fmt(m.get('generated_share'))} | "
                f"{_fmt(m.get('language_match'))} | {_fmt(m.get('language_match_shown'))} | "
                f"{_fmt(m.get('citation_recall'))} / "
                f"{_fmt(m.get('citation_precision'))} | {_fmt(m['evidence_precision'])} | "
                f"{m['unanswerable_refused']}/{m['unanswerable']} | {m['answerable_refused']}/{m['answerable']} | "
                f"{lat['first_token_p50']:.2f} | {lat['total_p50']:.2f} / {lat['total_p95']:.2f} |")
    return "\n".join(lines) + "\n"
