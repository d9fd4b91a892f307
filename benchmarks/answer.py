"""Benchmark answering, per reader: latency p50/p95, time to first token, tokens/s, beside raw llama.cpp.

    python benchmarks/answer.py [--questions 30] [--readers qwen2.5-coder-1.5b,smollm2-135m]
    python benchmarks/answer.py --kinds [evals/gold/natural.jsonl]

`--kinds`: the default reader over natural questions (both prompts' fixed parts read first, `Assistant.warm`),
first token and total p50 per question kind (kinds.py), with the question part of the prompt in tokens.

For each reader, `Assistant.ask` (greedy) runs over the first answerable dev-set questions, after one warm-up
question that loads the model and reads the prompt's fixed part. Then, for the same prompts, llama.cpp is timed
directly (`create_chat_completion`, same messages, same settings, the fixed part already read, as in the pipeline),
so the pipeline's own overhead (retrieval, evidence, verification) can be read off. Run it with nothing else on the
machine: llama.cpp's speed collapses when its threads share the 2 cores with other work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import REPO, dev_rows  # noqa: E402  (also puts the repository on sys.path)

from assistant import Assistant, Config  # noqa: E402
from assistant import prompt  # noqa: E402
from assistant.lang import detect_language  # noqa: E402
from evals.metrics import percentile  # noqa: E402


def bench(name: str, questions: list[str]) -> dict:
    assistant = Assistant(Config.load(model=name))
    assistant.ask(questions[0])  # warm-up: index, embedder, model, the prompt's fixed part
    total, first, modes, asked, tokens, generation = [], [], {}, [], 0, 0.0
    for q in questions:
        a = assistant.ask(q)
        total.append(a.timings["total"])
        modes[a.mode] = modes.get(a.mode, 0) + 1
        if a.raw:  # the reader was called
            first.append(a.timings["first_token"])
            asked.append(q)
            tokens += a.tokens
            generation += a.timings.get("generation", 0.0)
    # the same prompts, straight through llama.cpp
    llm = assistant.generator.llm
    raw_total, raw_first, prompt_tokens = [], [], []
    for q in asked:
        _, evidence = assistant.evidence(q)
        messages = prompt.build_messages(q, evidence, detect_language(q))
        t0, t_first = time.perf_counter(), None
        text = ""
        for chunk in llm.create_chat_completion(messages=messages, max_tokens=assistant.config.max_answer_tokens,
                                                temperature=0.0, top_k=1, stream=True):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                t_first = t_first or time.perf_counter() - t0
                text += piece
                if "\n" in text.strip():
                    break
        raw_total.append(time.perf_counter() - t0)
        raw_first.append(t_first or raw_total[-1])
        prompt_tokens.append(len(llm.tokenize(messages[-1]["content"].encode(), add_bos=False)))
    return {"reader": name, "description": assistant.generator.description, "modes": modes, "n": len(questions),
            "total_p50": statistics.median(total), "total_p95": percentile(total, .95),
            "first_p50": statistics.median(first) if first else 0.0,
            "tokens_per_s": tokens / generation if generation else 0.0,
            "raw_total_p50": statistics.median(raw_total) if raw_total else 0.0,
            "raw_first_p50": statistics.median(raw_first) if raw_first else 0.0,
            "question_tokens_p50": statistics.median(prompt_tokens) if prompt_tokens else 0}


def by_kind(path: str) -> None:
    import json

    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    assistant = Assistant(Config.load())
    assistant.index()
    assistant.warm()
    groups: dict[str, list] = {}
    for row in rows:
        a = assistant.ask(row["question"])
        if not a.raw:  # refused before the reader: nothing to time
            continue
        group = "one fact" if a.kind == "fact" else "several sentences"
        for key in (group, f"{group}: {a.kind}"):
            groups.setdefault(key, []).append(a)
    print(f"{len(rows)} questions of {path}, {os.cpu_count()} threads, greedy, the reader called for "
          f"{sum(len(v) for k, v in groups.items() if ':' not in k)}")
    print("| kind | answers | first token p50 (s) | total p50 / p95 (s) | tokens written p50 |")
    print("|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k.split(":")[0], ":" in k, k)):
        answers = groups[key]
        first = [a.timings["first_token"] for a in answers]
        total = [a.timings["total"] for a in answers]
        print(f"| {key} | {len(answers)} | {statistics.median(first):.2f} | {statistics.median(total):.2f} / "
              f"{percentile(total, .95):.2f} | {statistics.median(a.tokens for a in answers):.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", nargs="?", const="evals/gold/natural.jsonl",
                        help="time the default reader per question kind over these natural questions")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--readers", default="qwen2.5-coder-1.5b,smollm2-135m")
    args = parser.parse_args()
    if args.kinds:
        by_kind(str(REPO / args.kinds) if not os.path.isabs(args.kinds) else args.kinds)
        return
    questions = [row["question"] for row in dev_rows() if row["answerable"]][: args.questions]
    print(f"{len(questions)} answerable dev questions, {os.cpu_count()} threads, greedy")
    print("| reader | answers | total p50 / p95 (s) | first token p50 (s) | tokens/s | raw llama.cpp total / first "
          "token p50 (s) | pipeline overhead | question part of the prompt (tokens, p50) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.readers.split(","):
        r = bench(name.strip(), questions)
        modes = ", ".join(f"{k} {v}" for k, v in sorted(r["modes"].items()))
        overhead = r["total_p50"] / r["raw_total_p50"] - 1 if r["raw_total_p50"] else 0.0
        print(f"| {r['reader']} | {modes} | {r['total_p50']:.2f} / {r['total_p95']:.2f} | {r['first_p50']:.2f} | "
              f"{r['tokens_per_s']:.1f} | {r['raw_total_p50']:.2f} / {r['raw_first_p50']:.2f} | {overhead:+.0%} | "
              f"{r['question_tokens_p50']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
