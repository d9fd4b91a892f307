"""Benchmark reading and chunking one big article: seconds per size, to show both grow linearly with its length.

    python benchmarks/chunk.py [--sizes 1,2,4,8,20]

Each article is the text of corpus/ repeated up to the size (in MB), written to a temporary corpus folder; then a
file of 200,000 lines of one word each. `ingest` is reading the folder (decoding, cleaning, sections), `chunk` is
`chunk_article` on the result; `texts to embed` counts what `assistant index` would embed for it (passages,
distinct sentences, corpus words), at about 11 ms each here. Before chunking stopped copying the rest of the article
at every punctuation mark, 1 / 2 / 4 / 20 MB took 0.26 / 0.9 / 3.96 / 546 s to chunk; before a run of headings
shared a passage, the 200,000 lines made 200,000 passages (6,643 since).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import REPO  # noqa: F401  (puts the repository on sys.path)

from assistant.chunk import chunk_article  # noqa: E402
from assistant.index import corpus_words  # noqa: E402
from assistant.table import sentence_table  # noqa: E402
from assistant.ingest import load_corpus  # noqa: E402


def measure(name: str, text: str) -> tuple[str, float, float, float, int, int]:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "big.txt").write_text(text, encoding="utf-8")
        t0 = time.perf_counter()
        (article,) = load_corpus(Path(folder)).articles
        t1 = time.perf_counter()
        passages = chunk_article(article, 800)
        t2 = time.perf_counter()
    embedded = len(passages) + len(sentence_table(passages)[0]) + len(corpus_words(passages))
    return name, len(text.encode("utf-8")) / 1e6, t1 - t0, t2 - t1, len(passages), embedded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,2,4,8,20", help="article sizes in MB, comma-separated")
    args = parser.parse_args()
    seed = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "corpus").glob("*.txt")))
    rows = []
    for mb in (float(s) for s in args.sizes.split(",")):
        n = int(mb * 1e6)
        rows.append(measure(f"corpus text repeated to {mb:g} MB", (seed * (n // len(seed) + 1))[:n]))
    rows.append(measure("200,000 lines of one word", "\n".join(f"palavra{i}" for i in range(200_000))))
    print("| article | MB | ingest (s) | chunk (s) | chunk MB/s | passages | texts to embed |")
    print("|---|---|---|---|---|---|---|")
    for name, size, ingest, chunk, passages, embedded in rows:
        print(f"| {name} | {size:.1f} | {ingest:.2f} | {chunk:.2f} | {size / max(chunk, 1e-9):.1f} | {passages:,} "
              f"| {embedded:,} |")


if __name__ == "__main__":
    main()
