"""Vector stores: the embedded FAISS store and the Postgres (pgvector) engine answer the same questions the same way;
the engine's failures are one clear line. The Postgres tests run against a real server the session starts
(conftest.postgres_url)."""

import json

import numpy as np
import pytest

from assistant import Config, ConfigError, IndexCorruptError, StoreError
from assistant.index import centroids_of, load_index, pooled_passage_vectors, update_index
from assistant.ingest import load_corpus
from assistant.stores import SearchGraph, VectorStore
from assistant.stores.faiss import FaissStore
from assistant.stores.parts import Parts
from assistant.stores.postgres import PostgresStore
from conftest import GOLD, CountingEmbedder, FakeEmbedder
from evals.gold import load_gold
from test_index import NEW_ARTICLE


def unit_rows(n=200, dim=24, seed=3):
    m = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def tables(url) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'news_assistant_%'")}


def test_a_faiss_store_saves_the_file_llama_index_writes(tmp_path):
    from llama_index.vector_stores.faiss import FaissVectorStore

    store = FaissStore.from_vectors(unit_rows(n=50))
    store.save(tmp_path / "ours" / "v.faiss")  # folders made as the wrapper makes them
    FaissVectorStore(faiss_index=store.faiss_index).persist(persist_path=str(tmp_path / "wrapper.faiss"))
    assert (tmp_path / "ours" / "v.faiss").read_bytes() == (tmp_path / "wrapper.faiss").read_bytes()
    loaded = FaissStore.load(tmp_path / "ours" / "v.faiss")
    assert np.array_equal(loaded.vectors(), store.vectors()) and loaded.search(unit_rows(n=50)[7], 1)[0][0] == 7


def test_a_part_written_from_its_rows_is_the_file_faiss_writes(tmp_path):
    import faiss

    m = unit_rows(n=50)
    built = FaissStore.from_vectors(m)
    for first, last in ((0, 50), (10, 37), (5, 5)):
        part = FaissStore.persist(built, tmp_path / f"{first}.faiss", rows=(first, last))
        faiss.write_index(FaissStore.from_vectors(m[first:last]).faiss_index, str(tmp_path / "want.faiss"))
        assert (tmp_path / f"{first}.faiss").read_bytes() == (tmp_path / "want.faiss").read_bytes()
        assert np.array_equal(part.vectors(), m[first:last]) and len(part) == last - first


def test_a_store_of_parts_answers_as_one_store_of_its_rows(tmp_path, monkeypatch):
    m = unit_rows(n=300)
    paths = []
    for i, (a, b) in enumerate(((0, 120), (120, 121), (121, 300))):
        paths.append(tmp_path / f"p{i}.faiss")
        FaissStore.persist(FaissStore.from_vectors(m), paths[-1], rows=(a, b))
    parts = FaissStore.concatenated([FaissStore.load(path) for path in paths])
    whole = FaissStore.from_vectors(m)
    assert isinstance(parts, Parts) and (len(parts), parts.dim) == (300, 24)
    q = unit_rows(n=1, seed=5)[0]
    assert np.array_equal(parts.similarities(q), whole.similarities(q))  # bit for bit, part by part
    ids = [299, 0, 120, 5, 121, 120]
    assert np.array_equal(parts.rows(ids), m[ids]) and np.array_equal(parts.vectors(), m)
    mask = np.random.default_rng(1).random(300) < 0.4
    assert np.array_equal(parts.mean(mask), whole.mean(mask))  # centroids as a one-part index computes them
    # a mean is summed a block of rows at a time, not from a copy of every row it takes: numpy's mean bit for bit
    from assistant.stores import base as store_module

    for block in (7, 64, 1000):
        monkeypatch.setattr(store_module, "SUM_BLOCK", block)
        assert np.array_equal(whole.mean(mask), m[mask].mean(axis=0))
        assert np.array_equal(parts.mean(mask), m[mask].mean(axis=0))
    assert [row for row, _ in parts.search(q, 5)] == [row for row, _ in whole.search(q, 5)]
    assert parts.finite()
    with pytest.raises(ValueError):
        parts.vectors(writable=True)


def test_the_k_best_rows_are_a_stable_sorts_first_k_ties_and_all():
    from assistant.stores.base import top

    rng = np.random.default_rng(0)
    for n, k in [(0, 3), (1, 0), (5, 5), (5, 9), (200, 1), (200, 16), (1000, 16), (1000, 999)]:
        for sims in (rng.standard_normal(n).astype(np.float32),  # distinct values
                     rng.integers(0, 4, n).astype(np.float32)):  # a few values: ties across the k-th place
            ids, values = top(sims, k)
            want = np.argsort(-sims, kind="stable")[:k]
            assert ids.tolist() == want.tolist() and np.array_equal(values, sims[want])


@pytest.fixture
def pg_store(postgres_url, tmp_path):
    m = unit_rows()
    store = PostgresStore.persist(FaissStore.from_vectors(m), tmp_path / "v.pgvector", postgres_url)
    return m, store, tmp_path / "v.pgvector"


def test_postgres_store_computes_what_the_embedded_store_does(pg_store, postgres_url):
    m, store, path = pg_store
    faiss = FaissStore.from_vectors(m)
    loaded = PostgresStore.load(path, postgres_url)
    assert (len(loaded), loaded.dim) == (200, 24) and np.array_equal(loaded.vectors(), m)  # stored exactly
    q = m[17]
    assert np.allclose(loaded.similarities(q), faiss.similarities(q), atol=1e-6)
    assert loaded.search(q, 3)[0][0] == 17 and [r for r, _ in loaded.search(q, 5)] == [r for r, _ in faiss.search(q, 5)]
    queries = m[[3, 50, 199]]
    for (ids, sims), (want_ids, want_sims) in zip(loaded.nearest(queries, 7), VectorStore.nearest(faiss, queries, 7)):
        assert ids.tolist() == want_ids.tolist() and np.allclose(sims, want_sims, atol=1e-6)
    mask = np.arange(200) % 3 == 0
    assert np.allclose(loaded.mean(mask), faiss.mean(mask), atol=1e-6)
    assert np.array_equal(loaded.rows([5, 2, 5]), m[[5, 2, 5]]) and loaded.finite()


def test_a_missing_or_short_table_is_a_corrupt_index(pg_store, postgres_url):
    _, store, path = pg_store
    ref = json.loads(path.read_text())
    path.write_text(json.dumps({**ref, "rows": 201}))
    with pytest.raises(IndexCorruptError, match="holds 200 of the 201 rows"):
        PostgresStore.load(path, postgres_url)
    path.write_text(json.dumps(ref))
    PostgresStore.discard(path, postgres_url)
    assert store.table not in tables(postgres_url)
    with pytest.raises(IndexCorruptError, match="missing"):
        PostgresStore.load(path, postgres_url)
    path.write_text(json.dumps({**ref, "table": "pg_class; DROP TABLE x"}))  # only names the store itself makes
    with pytest.raises(IndexCorruptError, match="does not name"):
        PostgresStore.load(path, postgres_url)


def test_parts_in_their_own_tables_or_in_ranges_of_one_answer_as_one_store(pg_store, postgres_url, tmp_path):
    m, store, path = pg_store
    more = np.concatenate([m, unit_rows(30, seed=4)])
    q, mask = more[215], np.arange(230) % 3 == 0
    part = PostgresStore.persist(FaissStore.from_vectors(more), tmp_path / "v.1.pgvector", postgres_url, rows=(200, len(more)))
    assert part.table != store.table and len(part) == 30 and part.search(q, 1)[0][0] == 15  # a table of its own
    whole = PostgresStore.concatenated([PostgresStore.load(path, postgres_url),
                                        PostgresStore.load(tmp_path / "v.1.pgvector", postgres_url)])
    # an older generation's appended part: rows 200-229 of the table that also holds rows 0-199
    one = PostgresStore.persist(FaissStore.from_vectors(more), tmp_path / "all.pgvector", postgres_url)
    for name, first, rows in (("old.pgvector", 0, 200), ("old.1.pgvector", 200, 30)):
        (tmp_path / name).write_text(json.dumps({"engine": "postgres", "table": one.table, "first": first,
                                                 "rows": rows, "dim": 24}))
    ranges = [PostgresStore.load(tmp_path / name, postgres_url) for name in ("old.pgvector", "old.1.pgvector")]
    legacy = PostgresStore.concatenated(ranges)
    assert isinstance(whole, Parts) and isinstance(legacy, PostgresStore)
    faiss = FaissStore.from_vectors(more)
    for joined in (whole, legacy):
        assert len(joined) == 230 and np.array_equal(joined.vectors(), more)
        assert np.allclose(joined.similarities(q), faiss.similarities(q), atol=1e-6)
        assert np.array_equal(joined.rows([215, 3, 215]), more[[215, 3, 215]])
        (ids, sims), = joined.nearest(q[None, :], 3)
        assert ids[0] == 215 and np.allclose(sims, np.sort(faiss.similarities(q))[::-1][:3], atol=1e-6)
        assert np.allclose(joined.mean(mask), faiss.mean(mask), atol=1e-6)
    # a range of a table answers by its own rows
    tail = ranges[1]
    assert np.array_equal(tail.rows([15]), more[[215]]) and tail.nearest(q[None, :], 1)[0][0].tolist() == [15]
    assert tail.candidates(q, 1)[0].tolist() == [15] and set(ranges[0].candidates(q, 230)[0]) == set(range(200))
    assert whole.candidates(q, 1)[0].tolist() == [215] and legacy.candidates(q, 1)[0].tolist() == [215]
    assert np.allclose(tail.mean(mask[200:]), more[200:][mask[200:]].mean(axis=0), atol=1e-6)
    assert np.array_equal(legacy.part(200, 230).rows([15]), more[[215]])


def test_an_engines_parts_are_asked_at_once_each_on_a_connection_of_its_own(postgres_url, tmp_path, monkeypatch,
                                                                             request):
    import threading

    from assistant.stores import postgres as store_module

    m = unit_rows(n=90)
    built = FaissStore.from_vectors(m)
    parts = [PostgresStore.persist(built, tmp_path / f"v.{i}.pgvector", postgres_url, rows=(30 * i, 30 * (i + 1)))
             for i in range(3)]
    whole, queries = Parts(parts), unit_rows(n=4, seed=9)
    # every part's query waits until all three are in flight: asked in turn, the first would wait in vain
    met, backends, query = threading.Barrier(3, timeout=20), set(), PostgresStore.query

    def meeting(self, *args, **kwargs):
        met.wait()
        with self.connection() as conn:
            backends.add(conn.info.backend_pid)
        return query(self, *args, **kwargs)

    monkeypatch.setattr(store_module, "ENGINE_THREADS", 3)
    store_module.reset_workers()
    request.addfinalizer(store_module.reset_workers)  # the next test's pool has the usual size
    monkeypatch.setattr(PostgresStore, "query", meeting)
    assert np.allclose(whole.similarities(queries[0]), built.similarities(queries[0]), atol=1e-6)
    assert len(backends) == 3
    assert np.allclose(whole.similarities_of(queries[1], [89, 0, 45, 1]), m[[89, 0, 45, 1]] @ queries[1], atol=1e-6)
    # each part answers its own queries in turn inside a worker (no worker waits for another)
    monkeypatch.setattr(PostgresStore, "query", query)
    each = whole.candidates_each(queries, 5)
    for q, (ids, sims) in zip(queries, each):
        want, _ = built.candidates(q, 5)
        assert ids.tolist() == want.tolist() == whole.candidates(q, 5)[0].tolist()
        assert np.allclose(sims, m[ids] @ q, atol=1e-6)
    assert [ids.tolist() for ids, _ in whole.nearest(queries, 5)] == [ids.tolist() for ids, _ in each]


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    url = f"postgresql://someone:hunter2@/news?host={tmp_path}&connect_timeout=2"  # no server listens there
    with pytest.raises(StoreError) as caught:
        PostgresStore.persist(FaissStore.from_vectors(unit_rows(5)), tmp_path / "v.pgvector", url)
    message = str(caught.value)
    assert "cannot use the postgres store (database news" in message and "hunter2" not in message
    assert "\n" not in message and not (tmp_path / "v.pgvector").exists()


def test_a_dropped_connection_is_one_line_then_reconnects(pg_store, postgres_url, tmp_path):
    import psycopg

    m, store, _ = pg_store
    parts = Parts([PostgresStore.persist(FaissStore.from_vectors(m), tmp_path / f"v.{i}.pgvector", postgres_url,
                                         rows=(100 * i, 100 * (i + 1))) for i in range(2)])
    assert parts.similarities(m[150]).argmax() == 150  # the engine's workers hold connections of their own
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # the server ends every other session
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                      "AND datname = current_database()")
    with pytest.raises(StoreError, match="the postgres store failed"):
        store.similarities(m[0])
    assert store.similarities(m[0]).argmax() == 0  # the next question gets a new connection
    assert parts.similarities(m[150]).argmax() == 150  # and so do the workers, whose sessions ended too


def test_config_names_a_known_store_with_its_connection():
    with pytest.raises(ConfigError, match="store must be one of faiss, postgres"):
        Config(store="milvus")
    with pytest.raises(ConfigError, match="needs store_url"):
        Config(store="postgres")
    assert Config(store="postgres", store_url="postgresql:///news").store_url == "postgresql:///news"


def test_postgres_index_lifecycle_reuses_vectors_and_drops_old_tables(small_home, postgres_url):
    config = Config(store="postgres", store_url=postgres_url)
    before = tables(postgres_url)
    fake = FakeEmbedder()

    def build(cfg):
        counting = CountingEmbedder(fake)
        index, report = update_index(cfg, load_corpus(cfg.corpus_dir), counting, progress=False)
        return index, report, counting.counts["passage"]

    first, report, embedded = build(config)
    assert embedded == report.embedded > 0 and isinstance(first.store, PostgresStore)
    assert sorted(p.name for p in first.path.iterdir() if p.suffix == ".pgvector") == [
        "sentences.pgvector", "vectors.pgvector", "words.pgvector"]
    mine = tables(postgres_url) - before
    assert len(mine) == 3

    q = fake.embed(["Scale AI"], "query")[0]
    first_sims = first.store.similarities(q)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    second, report, embedded = build(config)
    new = [p for p in second.passages if p.source == "005_new.txt"]
    assert report.added == ["005_new.txt"] and embedded < len(second.passages) + len(second.sentences)
    # only additions: the new rows are a part of their own (new tables), and so are the new words; the first
    # part's tables and the first words' are kept
    assert second.manifest["parts"] == 2 and [p.table for p in second.store.parts][0] == first.store.table
    assert [p.table for p in second.word_store.parts][0] == first.word_store.table
    assert len(tables(postgres_url) - before) == 6  # the first's 3, and the second's new part (2) and new words
    loaded = load_index(config.index_dir, postgres_url)
    assert loaded.passages == second.passages and np.array_equal(loaded.store.vectors(), second.store.vectors())
    grown, counted = loaded.centroids, centroids_of(loaded)  # the old means grown by the new rows = the server's
    assert all(np.allclose(grown[k][c], counted[k][c], atol=1e-6) for k in counted for c in counted[k])
    assert grown.keys() == counted.keys() and all(grown[k].keys() == counted[k].keys() for k in counted)
    pooled = pooled_passage_vectors(new, loaded.sentence_row, loaded.sentence_store.vectors())  # config's default
    assert np.allclose(loaded.store.vectors()[[second.passages.index(p) for p in new]], pooled, atol=1e-6)
    assert np.array_equal(first.store.similarities(q), first_sims)  # the older generation sees its own rows
    # the replaced generation stays one build (a server may still answer from its tables), then goes
    assert len(list(config.index_dir.glob("gen-*"))) == 2
    (small_home / "corpus" / "005_new.txt").unlink()
    third, report, embedded = build(config)
    # the removed article's part goes; the first part is kept, tables and all, and nothing is embedded again
    assert third.manifest["parts"] == 1 and third.store.table == first.store.table and embedded == 0
    assert third.passages == first.passages and np.array_equal(third.store.vectors(), first.store.vectors())
    # the second's 6, of which the third keeps its first part's 2 and both words' (the words that left keep their
    # rows until they are many: index.DEAD_WORDS)
    assert len(tables(postgres_url) - before) == 6
    assert [p.table for p in third.word_store.parts] == [p.table for p in second.word_store.parts]
    # a change rewrites only its article's part, into new tables
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    build(config)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE + "Mais uma frase.\n", encoding="utf-8")
    changed, report, _ = build(config)
    assert report.changed == ["005_new.txt"] and changed.store.parts[0].table == first.store.table
    assert load_index(config.index_dir, postgres_url).passages == changed.passages
    (small_home / "corpus" / "005_new.txt").unlink()
    third, _, _ = build(config)

    # another store in the config: rebuilt there, without reading the engine; the tables of the second go
    back, report, _ = build(Config(store_url=postgres_url))  # the old tables are dropped through it
    assert "in the postgres store, config asks for faiss" in report.rebuilt and isinstance(back.store, FaissStore)
    assert tables(postgres_url) - before == {third.store.table, third.sentence_store.table,
                                             *(p.table for p in third.word_store.parts)}


def test_an_index_in_postgres_answers_like_the_one_in_files(built, built_postgres):
    questions = [g.question for g in load_gold(GOLD)][:40]
    for mode in ("hybrid", "dense", "bm25"):
        for q in questions:
            a, b = built.retrieve(q, k=5, mode=mode), built_postgres.retrieve(q, k=5, mode=mode)
            assert [p.id for p in a] == [p.id for p in b], (mode, q)
            assert [p.score for p in a] == pytest.approx([p.score for p in b], abs=1e-4)
    with pytest.raises(ConfigError, match="cannot change store, store_url on a running assistant"):
        built_postgres.with_settings(store="faiss", store_url=None)


def test_rows_scored_by_id_are_those_rows_of_every_rows_score(pg_store, postgres_url, tmp_path):
    m, pg, _ = pg_store
    halves = []
    for i, (a, b) in enumerate(((0, 80), (80, 200))):
        FaissStore.persist(FaissStore.from_vectors(m), tmp_path / f"h{i}.faiss", rows=(a, b))
        halves.append(FaissStore.load(tmp_path / f"h{i}.faiss"))
    ids = [199, 0, 80, 79, 80, 5]
    q = unit_rows(n=1, seed=9)[0]
    for store in (FaissStore.from_vectors(m), Parts(halves), pg):
        assert np.array_equal(store.similarities_of(q, ids), store.similarities(q)[ids])  # bit for bit
        assert np.allclose(VectorStore.similarities_of(store, q, ids), store.similarities(q)[ids], atol=1e-6)
        assert store.similarities_of(q, []).shape == (0,)
        with pytest.raises(IndexError):
            store.similarities_of(q, [200])


def test_an_engine_table_of_many_rows_answers_candidates_from_its_hnsw_index(postgres_url, tmp_path, monkeypatch):
    import psycopg

    from assistant.stores import base, postgres

    monkeypatch.setattr(base, "ANN_MIN_ROWS", 150)
    m = unit_rows(n=400, dim=24, seed=6)
    small = PostgresStore.persist(FaissStore.from_vectors(m), tmp_path / "s.pgvector", postgres_url, rows=(0, 100), graph=SearchGraph())
    big = PostgresStore.persist(FaissStore.from_vectors(m), tmp_path / "b.pgvector", postgres_url, graph=SearchGraph())
    plain = PostgresStore.persist(FaissStore.from_vectors(m), tmp_path / "p.pgvector", postgres_url)  # not asked
    with psycopg.connect(postgres_url) as conn:
        indexed = {r[0] for r in conn.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'")}
        assert big.table in indexed and small.table not in indexed and plain.table not in indexed
        conn.execute("SET enable_seqscan = off")  # at 400 rows the planner would rather sort them
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT id FROM {big.table} ORDER BY embedding <#> %s::vector LIMIT 10",
            (str(m[0].tolist()),)))
        assert f"{big.table}_hnsw" in plan
    postgres.forget_connections()  # this test's own connection for questions
    postgres.connect(postgres_url).execute("SET enable_seqscan = off")  # made to search the graph
    exact = FaissStore.from_vectors(m)
    found = 0
    for q in unit_rows(n=20, dim=24, seed=7):
        ids, sims = big.candidates(q, 10)
        want, _ = exact.candidates(q, 10)
        assert np.allclose(sims, exact.similarities_of(q, ids), atol=1e-6) and list(sims) == sorted(sims, reverse=True)
        found += len(set(ids.tolist()) & set(want.tolist()))
    assert found / 200 >= 0.9  # recall@10 of the graph against exact search
    ids, _ = small.candidates(m[42], 3)  # a table without an index is scanned
    assert ids[0] == 42
    # an index built before candidates was set: its tables get the search index when next brought up to date
    PostgresStore.load(tmp_path / "p.pgvector", postgres_url).add_search_index()
    PostgresStore.load(tmp_path / "s.pgvector", postgres_url).add_search_index()  # too small: scanned
    with psycopg.connect(postgres_url) as conn:
        indexed = {r[0] for r in conn.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING hnsw%'")}
    assert plain.table in indexed and small.table not in indexed


def test_a_faiss_part_of_many_rows_answers_candidates_from_its_hnsw_graph(tmp_path, monkeypatch):
    import faiss

    from assistant.stores import base, faiss as store_module

    monkeypatch.setattr(base, "ANN_MIN_ROWS", 1000)
    m = unit_rows(n=3000, dim=24, seed=6)
    built = FaissStore.from_vectors(m)
    big = FaissStore.persist(built, tmp_path / "b.faiss", graph=SearchGraph())
    small = FaissStore.persist(built, tmp_path / "s.faiss", rows=(100, 900), graph=SearchGraph())  # scanned
    plain = FaissStore.persist(built, tmp_path / "p.faiss")  # not asked
    assert [FaissStore.file_lacks_search_index(tmp_path / f"{n}.faiss") for n in "bsp"] == [False, False, True]
    exact = FaissStore.from_vectors(m)
    loaded = FaissStore.load(tmp_path / "b.faiss")
    assert isinstance(loaded.faiss_index, faiss.IndexHNSWFlat) and not loaded.lacks_search_index()
    assert plain.lacks_search_index() and not small.lacks_search_index()
    q = unit_rows(n=1, dim=24, seed=8)[0]
    # every other question is asked of the flat rows inside the graph: the same numbers bit for bit
    assert np.array_equal(loaded.vectors(), m) and np.array_equal(loaded.similarities(q), exact.similarities(q))
    assert np.array_equal(loaded.similarities_of(q, [5, 2999, 5]), exact.similarities(q)[[5, 2999, 5]])
    assert [row for row, _ in loaded.search(q, 5)] == [row for row, _ in exact.search(q, 5)]
    found = 0
    faiss.cvar.hnsw_stats.reset()
    for q in unit_rows(n=20, dim=24, seed=7):
        ids, sims = loaded.candidates(q, 10)
        want, _ = exact.candidates(q, 10)
        # the graph's distance code may round apart from the flat kernel's (AVX2 here, AVX-512 elsewhere)
        assert np.allclose(sims, exact.similarities_of(q, ids), rtol=0, atol=1e-6)
        assert list(sims) == sorted(sims, reverse=True)
        found += len(set(ids.tolist()) & set(want.tolist()))
    assert found / 200 >= 0.9  # recall@10 of the graph against exact search
    assert 0 < faiss.cvar.hnsw_stats.ndis < 20 * 3000 / 2  # the graph was walked, not every row scored
    ids, _ = small.candidates(m[142], 3)
    assert ids[0] == 42
    # the graph is built a block at a time, each after the build's pause (where a background update lets a
    # question have the cores)
    monkeypatch.setattr(store_module, "GRAPH_BLOCK", 1000)
    paused = []
    paced = FaissStore.persist(built, tmp_path / "paced.faiss", graph=SearchGraph(pause=lambda: paused.append(1)))
    assert len(paused) == 3 and paced.candidates(m[7], 1)[0].tolist() == [7]
    parts = Parts([plain, loaded])
    assert parts.lacks_search_index() and not Parts([small, loaded]).lacks_search_index()
    # a graph written over the flat file it is built from (a build's part, index.py): the store mapping that file,
    # and a link to it from another generation, still read the flat rows
    (tmp_path / "linked.faiss").hardlink_to(tmp_path / "p.faiss")
    mapped = FaissStore.load(tmp_path / "p.faiss")
    FaissStore.persist(mapped, tmp_path / "p.faiss", graph=SearchGraph())
    assert not FaissStore.file_lacks_search_index(tmp_path / "p.faiss")
    assert FaissStore.file_lacks_search_index(tmp_path / "linked.faiss")
    assert np.array_equal(mapped.vectors(), m) and np.array_equal(FaissStore.load(tmp_path / "p.faiss").vectors(), m)


def test_a_graph_kept_from_a_donor_answers_as_a_graph_built_anew(tmp_path, monkeypatch):
    import faiss

    m = unit_rows(n=3000, dim=24, seed=6)
    donor = FaissStore.with_graph(m)
    new = unit_rows(n=40, dim=24, seed=8)
    rows = np.concatenate([m[:1000], new, m[1030:]])  # 30 rows left, 40 came in their place
    came_from = np.concatenate([np.arange(1000), np.full(40, -1), np.arange(1030, 3000)])
    added = []
    add = faiss.IndexHNSWFlat.add
    monkeypatch.setattr(faiss.IndexHNSWFlat, "add", lambda self, x: (added.append(len(x)), add(self, x))[1])
    kept = FaissStore.with_graph(rows, donor=(donor, came_from))
    assert added == [40]  # only the new rows were added to the graph
    assert np.array_equal(kept.vectors(), rows)
    hnsw = kept.faiss_index.hnsw
    levels, offsets, links = (faiss.vector_to_array(v) for v in (hnsw.levels, hnsw.offsets, hnsw.neighbors))
    assert len(levels) == len(rows) and offsets[-1] == len(links) and -1 <= links.min() and links.max() < len(rows)
    # each level's list of links ends in -1s only (FAISS stops at the first): no link after a -1
    for node in range(len(rows)):
        bounds = [hnsw.cum_nb_neighbors(level) for level in range(levels[node] + 1)]
        for a, b in zip(bounds, bounds[1:]):
            own = links[offsets[node] + a:offsets[node] + b]
            assert not (own[np.argmax(own < 0):] >= 0).any() or (own >= 0).all()
    exact, fresh = FaissStore.from_vectors(rows), FaissStore.with_graph(rows)
    found = {"kept": 0, "fresh": 0}
    for q in unit_rows(n=50, dim=24, seed=7):
        want, _ = exact.candidates(q, 10)
        for name, store in (("kept", kept), ("fresh", fresh)):
            ids, sims = store.candidates(q, 10)
            assert np.allclose(sims, exact.similarities_of(q, ids), atol=1e-6)
            found[name] += len(set(ids.tolist()) & set(want.tolist()))
    assert found["kept"] >= found["fresh"] - 10 and found["kept"] / 500 >= 0.95, found  # recall@10
    assert all(kept.candidates(v, 1)[0].tolist() == [1000 + i] for i, v in enumerate(new))  # the new rows are found
    kept.save(tmp_path / "k.faiss")
    back = FaissStore.load(tmp_path / "k.faiss")
    assert [back.candidates(q, 10)[0].tolist() for q in new] == [kept.candidates(q, 10)[0].tolist() for q in new]
    # a donor without a graph gives none: the graph is built anew
    from assistant.stores import base

    monkeypatch.setattr(base, "ANN_MIN_ROWS", 1000)
    plain = FaissStore.persist(FaissStore.from_vectors(rows), tmp_path / "p.faiss", graph=SearchGraph(donor=(FaissStore.from_vectors(m), came_from)))
    assert plain.keeps_graph() and added[-1] == len(rows)


def test_switching_to_an_unreachable_store_fails_before_embedding(small_home):
    config, fake = Config(), FakeEmbedder()
    update_index(config, load_corpus(config.corpus_dir), fake, progress=False)
    switched = config.replace(store="postgres",
                              store_url=f"postgresql://someone@/news?host={small_home}&connect_timeout=2")
    counting = CountingEmbedder(fake)
    with pytest.raises(StoreError, match="cannot use the postgres store"):
        update_index(switched, load_corpus(config.corpus_dir), counting, progress=False)
    assert counting.counts["passage"] == 0 and not list(config.index_dir.glob("gen-*.tmp"))
