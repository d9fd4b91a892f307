"""Benchmark answering: latency p50/p95, time to first token, generation tokens/s, beside raw llama.cpp.

    python benchmarks/answer.py [--questions 30]

Runs `Assistant.ask` (default config: the bundled SmolLM2-135M through llama.cpp, greedy) over the first answerable
dev-set questions, after one warm-up question that loads the model. Then, for the same prompts, it times llama.cpp
directly (`create_chat_completion`, same messages and settings) so the pipeline's own overhead can be read off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import dev_rows, pct  # noqa: E402  (also puts the repository on sys.path)

from assistant import Assistant, Config  # noqa: E402
from assistant import answer as answering  # noqa: E402
from assistant.lang import detect_language  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=30)
    args = parser.parse_args()
    questions = [row["question"] for row in dev_rows() if row["answerable"]][: args.questions]

    assistant = Assistant(Config.load())
    assistant.ask(questions[0])  # warm-up: index, embedder, model
    total, first, modes, asked = [], [], {}, []
    for q in questions:
        a = assistant.ask(q)
        total.append(a.timings["total"])
        if a.mode != "refused":  # a refusal never reaches the model
            first.append(a.timings["first_token"])
            asked.append(q)
        modes[a.mode] = modes.get(a.mode, 0) + 1
    print(f"Assistant.ask over {len(questions)} questions ({assistant.generator.description}, "
          f"{os.cpu_count()} threads): modes {modes}")
    print(f"  total latency      p50 {statistics.median(total):.2f} s   p95 {pct(total, .95):.2f} s")
    print(f"  time to first token p50 {statistics.median(first):.2f} s   p95 {pct(first, .95):.2f} s")

    # the same prompts, straight through llama.cpp
    llm = assistant.generator._llm
    gen_tokens, gen_seconds, raw_total, prompt_tokens = 0, 0.0, [], []
    for q in asked:
        _, evidence = assistant.evidence(q)
        messages = answering.build_messages(q, evidence, detect_language(q))
        t0 = time.perf_counter()
        out = llm.create_chat_completion(messages=messages, max_tokens=assistant.config.max_answer_tokens,
                                         temperature=0.0, top_k=1, repeat_penalty=1.1)
        raw_total.append(time.perf_counter() - t0)
        prompt_tokens.append(out["usage"]["prompt_tokens"])
        # generation speed: time a second call with the prompt already cached by llama.cpp
        t0 = time.perf_counter()
        again = llm.create_chat_completion(messages=messages, max_tokens=assistant.config.max_answer_tokens,
                                           temperature=0.0, top_k=1, repeat_penalty=1.1)
        gen_seconds += time.perf_counter() - t0
        gen_tokens += again["usage"]["completion_tokens"]
    print(f"raw llama.cpp, same prompts ({statistics.median(prompt_tokens):.0f} prompt tokens median):")
    print(f"  total latency      p50 {statistics.median(raw_total):.2f} s   p95 {pct(raw_total, .95):.2f} s")
    print(f"  generation         {gen_tokens / gen_seconds:.1f} tokens/s (prompt cached)")


if __name__ == "__main__":
    main()
