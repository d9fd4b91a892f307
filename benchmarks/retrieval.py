"""Benchmark the index and retrieval: build time (cold, no change), query latency p50/p95, peak memory.

    python benchmarks/retrieval.py [--queries 100]

Runs in a temporary folder with a copy of corpus/, so the project's own index is untouched. "Cold" is a first
build from an empty index folder in a fresh process (embedder loading included); "no change" is a second update
with nothing to do. Latencies are wall-clock per `Assistant.retrieve` call over the dev-set questions, per mode.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import REPO, dev_rows  # noqa: E402  (also puts the repository on sys.path)

from assistant import Assistant, Config  # noqa: E402
from evals.metrics import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100, help="retrieve calls per mode")
    args = parser.parse_args()
    questions = [row["question"] for row in dev_rows()]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "corpus", root / "corpus")
        config = Config(corpus_dir=root / "corpus", index_dir=root / "index")

        t0 = time.perf_counter()
        assistant = Assistant(config)
        report = assistant.index()
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = Assistant(config).index()
        warm = time.perf_counter() - t0
        print(f"index build, cold (incl. model load): {cold:.2f} s for {report.passages} passages "
              f"({report.embedded} embedded)")
        print(f"index update, no change (a new Assistant, embedder load included): {warm:.2f} s "
              f"({again.embedded} embedded)")

        # bm25 and hybrid embed each new question word (term expansion) and cache its neighbours; each mode starts
        # with an empty cache, and "hybrid (warm)" repeats hybrid with every word cached, as in a long-running server.
        for mode, label in (("dense", "dense"), ("bm25", "bm25"), ("hybrid", "hybrid"), ("hybrid", "hybrid (warm)")):
            if label != "hybrid (warm)":
                assistant.retriever.forget_words()
            assistant.retrieve(questions[0], mode=mode)  # warm-up
            times = []
            for i in range(args.queries):
                t0 = time.perf_counter()
                assistant.retrieve(questions[i % len(questions)], k=5, mode=mode)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"retrieve k=5 {label:>13}: p50 {percentile(times, .5):6.2f} ms  p95 {percentile(times, .95):6.2f} ms  "
                  f"mean {statistics.mean(times):6.2f} ms  ({args.queries} queries)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
