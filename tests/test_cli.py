"""The command line, run as a user runs it: a subprocess, real index, messages instead of tracebacks."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test runs the CLI in a subprocess, most of them with the real embedder


def cli(*args, cwd):
    env = dict(os.environ, ASSISTANT_HOME=str(cwd))
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_index_then_retrieve_json(home):
    out = cli("index", cwd=home)
    assert out.returncode == 0, out.stderr
    assert "passages from 5 articles" in out.stdout
    assert "index: embedding 1173 texts (142 sentences, 1031 words)" in out.stderr  # said before it starts
    out = cli("retrieve", "How many parameters does Llama 3.1 have?", "--json", "-k", "3", cwd=home)
    assert out.returncode == 0, out.stderr
    passages = json.loads(out.stdout)
    assert len(passages) == 3
    assert set(passages[0]) == {"source", "title", "language", "text", "start", "end", "score"}
    assert "405 bilhões de parâmetros" in passages[0]["text"]
    out = cli("index", cwd=home)
    assert "up to date" in out.stdout and "0 embedded" in out.stdout


@pytest.mark.parametrize("args,message", [
    (("retrieve", "   "), "question is empty"),
    (("retrieve", "x" * 5000), "limit is"),
    (("--config", "missing.toml", "retrieve", "Llama"), "config file not found"),
    (("--config", "corpus", "retrieve", "Llama"), "is a folder"),
])
def test_user_errors_are_one_line_messages(small_home, args, message):
    out = cli(*args, cwd=small_home)
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr


def test_unreadable_article_is_reported_not_fatal(small_home):
    (small_home / "corpus" / "broken.txt").write_bytes(b"\x00\xff\x00")
    out = cli("index", cwd=small_home)
    assert out.returncode == 0, out.stderr
    assert "skipped broken.txt" in out.stdout


def test_missing_corpus_is_a_clear_error(tmp_path):
    out = cli("retrieve", "Llama", cwd=tmp_path)
    assert out.returncode == 1 and "corpus folder not found" in out.stderr and "Traceback" not in out.stderr


def test_ask_prints_the_answer_and_its_sources(home):
    out = cli("ask", "Quelle part de Scale AI Meta a-t-elle achetée ?", cwd=home)
    assert out.returncode == 0, out.stderr
    assert "49%" in out.stdout and "[1] 001_8648823dfeb0dd77.txt" in out.stdout
    out = cli("ask", "Quelle part de Scale AI Meta a-t-elle achetée ?", "--json", cwd=home)
    answer = json.loads(out.stdout)
    assert answer["mode"] in ("generated", "extractive") and answer["language"] == "fr"
    assert {"number", "source", "title", "language", "text", "start", "end", "score", "answer_start",
            "answer_end", "page"} == set(answer["citations"][0])
    # generation: first to last token, present because the model was called; verify: checking its draft
    assert set(answer["timings"]) == {"retrieve", "first_token", "total", "generation", "verify"}
    assert answer["tokens"] > 0 and len(answer["evidence"]) == 2  # evidence_sentences, by default
    assert answer["refusal_reason"] == "" and answer["abstain_probability"] is not None


def test_ask_with_a_missing_model_is_a_clear_error(small_home):
    (small_home / "assistant.toml").write_text('model = "no/such/model.gguf"\nrefusal_threshold = -1.0\n')
    out = cli("ask", "Que GPUs a Meta comprou?", cwd=small_home)
    assert out.returncode == 1 and "model file not found" in out.stderr and "Traceback" not in out.stderr


def test_bad_port_is_a_usage_error(small_home):
    out = cli("serve", "--port", "99999", cwd=small_home)
    assert out.returncode == 2 and "from 1 to 65535" in out.stderr and "Traceback" not in out.stderr


def test_index_dir_that_is_a_file_is_a_config_error(small_home):
    (small_home / "afile").write_text("x")
    (small_home / "assistant.toml").write_text('index_dir = "afile"\n')
    out = cli("retrieve", "Llama", cwd=small_home)
    assert out.returncode == 1 and "must be a folder" in out.stderr and "Traceback" not in out.stderr


def test_a_reader_that_leaves_early_is_not_an_error(small_home):
    # `assistant retrieve ... | head -1`: the pipe closes before the output is written
    env = dict(os.environ, ASSISTANT_HOME=str(small_home))
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "-q", "retrieve", "Llama", "-k", "3"],
                            cwd=small_home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0 and "Traceback" not in err and "internal error" not in err, err


def test_a_corrupt_index_pointer_heals_with_one_line(small_home):
    assert cli("index", cwd=small_home).returncode == 0
    (small_home / "index" / "CURRENT").write_bytes(os.urandom(300))
    out = cli("retrieve", "Llama", "-k", "1", cwd=small_home)
    assert out.returncode == 0, out.stderr
    assert "the newest sound generation" in out.stderr and "Traceback" not in out.stderr
    assert cli("retrieve", "Llama", "-k", "1", cwd=small_home).stderr == ""  # healed: nothing more to say
