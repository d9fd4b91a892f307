"""Benchmark the index's bookkeeping as the corpus grows: a no-change update and adding one article, at N articles.

    python benchmarks/index_update.py [--sizes 300,1500,3000]

The articles are the five of corpus/ copied with their paragraphs shuffled (so the vocabulary does not grow), and
the embedder is a hash of each text's words into 384 numbers: embedding costs about 11 ms per text here whatever
the corpus size (issue "Ten thousand articles…" has the real figures), and this benchmark measures everything else
an update does: reading, chunking, finding what changed, reusing the unchanged articles' passages and vectors,
writing the index. Before the unchanged articles' passages were grouped once (they were found by a scan of every
passage per article, and counted the same way for the manifest), the no-change update grew with the square of N.

At 9,000 articles (72,512 passages): no-change 17.95 s and add-one 28.51 s before the cleaning cache, the saved
BM25 postings and the kept word counts; 2.43 s and 7.66 s after. What add-one still costs is mostly rewriting the
whole index (560 MB at 9,000 articles) and reading it back.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from common import REPO, HashEmbedder  # noqa: F401  (also puts the repository on sys.path)

from assistant import Config  # noqa: E402
from assistant.embed import Embedder  # noqa: E402
from assistant.index import cleaning_cache, update_index  # noqa: E402
from assistant.ingest import load_corpus  # noqa: E402


def write_corpus(folder: Path, n: int) -> None:
    seeds = [p.read_text(encoding="utf-8") for p in sorted((REPO / "corpus").glob("*.txt"))]
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for i in range(n):
        paragraphs = seeds[i % len(seeds)].split("\n\n")
        head, body = paragraphs[:1], paragraphs[1:]
        rng.shuffle(body)
        (folder / f"{i:05d}.txt").write_text("\n\n".join(head + body), encoding="utf-8")


def timed(config: Config, embedder: Embedder) -> tuple[float, object]:
    t0 = time.perf_counter()
    corpus = load_corpus(config.corpus_dir, cache=cleaning_cache(config.index_dir))
    _, report = update_index(config, corpus, embedder, progress=False)
    return time.perf_counter() - t0, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="300,1500,3000", help="corpus sizes, comma-separated")
    args = parser.parse_args()
    embedder = HashEmbedder()
    print("| articles | passages | cold build (s) | no-change update p50 (s) | add one article p50 (s) |")
    print("|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as root:
            config = Config(corpus_dir=Path(root) / "corpus", index_dir=Path(root) / "index")
            write_corpus(config.corpus_dir, n)
            cold, report = timed(config, embedder)
            same = [timed(config, embedder)[0] for _ in range(3)]
            added = []
            for k in range(3):
                extra = config.corpus_dir / f"new{k}.txt"
                extra.write_text((REPO / "corpus" / "000_e09d9c4875df88f1.txt").read_text(encoding="utf-8")
                                 + f"\n\nUma frase nova número {k}.\n", encoding="utf-8")
                added.append(timed(config, embedder)[0])
            print(f"| {n:,} | {report.passages:,} | {cold:.1f} | {statistics.median(same):.2f} | "
                  f"{statistics.median(added):.2f} |")


if __name__ == "__main__":
    main()
