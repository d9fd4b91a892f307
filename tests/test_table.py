"""Passages of a saved index read on demand (table.py), with the real embedder and FAISS."""

import json
import shutil

import numpy as np
import pytest

from assistant import Assistant, Config, IndexCorruptError
from assistant import table
from assistant.index import load_index, update_index
from assistant.table import sentence_table
from assistant.ingest import load_corpus
from assistant.files import sha256_of
from assistant.table import PassageTable
from test_index import NEW_ARTICLE, e5, in_small_parts  # noqa: F401  (e5: the module's embedder fixture)


def build(config, embedder):
    return update_index(config, load_corpus(config.corpus_dir), embedder, progress=False)[0]


def assert_same_table(loaded, built) -> None:
    """A loaded index's passages and sentence table are the built index's."""
    assert isinstance(loaded.passages, PassageTable)
    assert len(loaded.passages) == len(built.passages) and list(loaded.passages) == list(built.passages)
    assert [loaded.passages[i] for i in range(len(built.passages))] == list(built.passages)
    assert loaded.passages[-1] == built.passages[-1] and loaded.passages[1:3] == built.passages[1:3]
    rows, flat, offsets = sentence_table(list(built.passages))
    assert np.array_equal(loaded.sentence_rows, flat) and np.array_equal(loaded.sentence_offsets, offsets)
    assert len(loaded.sentence_row) == len(rows)
    for key, row in rows.items():  # each lookup reads its article's columns only
        assert loaded.sentence_row[key] == row
    assert loaded.sentences == list(rows)  # the whole table, made by parsing every passage, in row order
    assert loaded.passages.languages.tolist() == [p.language for p in built.passages]


def test_a_loaded_index_reads_its_passages_from_their_columns(small_home, e5):
    config = Config()
    built = build(config, e5)
    loaded = load_index(config.index_dir)
    assert (loaded.path / "passages.npz").exists() and "passages.npz" in loaded.manifest["files"]
    assert_same_table(loaded, built)
    source, start, end = loaded.sentences[0]
    with pytest.raises(KeyError):
        loaded.sentence_row[(source, start, end + 1)]
    with pytest.raises(KeyError):
        loaded.sentence_row[("no such article.txt", start, end)]
    with pytest.raises(IndexError):
        loaded.passages[len(built.passages)]


def test_a_question_parses_only_the_passages_it_returns(small_home, e5, monkeypatch):
    config = Config(k=2)
    question = "Quanto custaria o modelo que Zuckerberg abriria?"
    builder = Assistant(config, embedder=e5)  # builds, and answers from the passages it made (in memory)
    expected = builder.evidence(question)
    assert all(isinstance(segment, list) for segment in builder.retriever.passages.segments)
    parsed = []
    original = table.parse_passage
    monkeypatch.setattr(table, "parse_passage", lambda line: parsed.append(line) or original(line))
    reader = Assistant(config, embedder=e5)  # loads the index
    passages, evidence = reader.evidence(question)
    assert not any(isinstance(segment, list) for segment in reader.retriever.passages.segments)  # mapped lines
    assert len(reader.retriever.passages) > 2 * config.k
    assert len(parsed) == len(passages) == config.k  # the passages returned, and no other
    assert (passages, evidence) == expected and evidence


def test_a_part_written_before_its_columns_loads_and_gets_them_when_kept(small_home, e5):
    config = Config()
    built = build(config, e5)
    (built.path / "passages.npz").unlink()
    manifest = json.loads((built.path / "manifest.json").read_text())
    del manifest["files"]["passages.npz"]
    (built.path / "manifest.json").write_text(json.dumps(manifest))
    older = load_index(config.index_dir)
    assert_same_table(older, built)  # read whole, the columns computed
    inode = (built.path / "passages.jsonl").stat().st_ino
    (small_home / "corpus" / "005_new.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    grown = build(config, e5)
    assert grown.part_rows[0] == built.part_rows[0] and len(grown.part_rows) == 2  # the old part kept, linked
    assert (grown.path / "passages.jsonl").stat().st_ino == inode
    assert {"passages.npz", "passages.1.npz"} <= set(grown.manifest["files"])
    assert_same_table(load_index(config.index_dir), grown)


def test_columns_that_do_not_describe_their_lines_are_a_corrupt_index(small_home, e5):
    config = Config()
    built = build(config, e5)
    # columns of another list of passages (one passage fewer), with a checksum that matches them
    with np.load(built.path / "passages.npz") as data:
        columns = {name: data[name] for name in data.files}
    columns["line_ends"] = columns["line_ends"][:-1]
    with open(built.path / "passages.npz", "wb") as fh:
        np.savez(fh, **columns)
    manifest = json.loads((built.path / "manifest.json").read_text())
    manifest["files"]["passages.npz"] = sha256_of(built.path / "passages.npz")
    (built.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="passages.npz does not describe passages.jsonl"):
        load_index(config.index_dir)
    assistant = Assistant(config, embedder=e5)
    assert assistant.retrieve("Llama 3.1", k=1)
    assert "does not describe" in assistant.last_index_report.rebuilt  # rebuilt, with the reason


def test_passages_stay_readable_after_another_build_removed_their_folder(small_home, e5):
    # a server answers from the generation it loaded while `assistant index` replaces and removes it
    config = Config()
    built = build(config, e5)
    loaded = load_index(config.index_dir)
    shutil.rmtree(loaded.path)
    assert list(loaded.passages) == list(built.passages)
    assert loaded.passages[len(built.passages) - 1] == built.passages[-1]


def test_an_update_reads_only_the_passages_of_the_parts_it_writes(small_home, e5, monkeypatch):
    corpus = in_small_parts(small_home, monkeypatch)
    config = Config()
    build(config, e5)
    loaded = load_index(config.index_dir)
    parts = [set(loaded.passages.segment_sources(i)) for i in range(len(loaded.part_rows))]
    changed = "005_new.txt"
    rewritten = set().union(*(sources for sources in parts if changed in sources))
    assert len(parts) >= 2 and rewritten != set().union(*parts)
    (corpus / changed).write_text(NEW_ARTICLE + "O Scout cabe numa só GPU H100.\n", encoding="utf-8")
    parsed = []
    original = table.parse_passage
    monkeypatch.setattr(table, "parse_passage", lambda line: parsed.append(json.loads(line)["source"]) or original(line))
    held, report = update_index(config, load_corpus(config.corpus_dir), e5, progress=False)  # loads the index
    assert report.changed == [changed] and parsed and set(parsed) <= rewritten  # no passage of a kept part
    fresh = build(config.replace(index_dir=small_home / "fresh"), e5)
    assert sorted(map(tuple, (p.to_dict().values() for p in held.passages))) == sorted(
        map(tuple, (p.to_dict().values() for p in fresh.passages)))
    assert held.manifest["articles"] == fresh.manifest["articles"]  # the same fingerprints and passage counts
    assert held.manifest["sentences"] == fresh.manifest["sentences"] == len(held.sentences)
