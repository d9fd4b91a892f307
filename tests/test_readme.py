"""The README's examples run, and its figures are those its command prints: against a temporary home holding the
five articles, the Python example with the real reader and every shell line through the real CLI."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PAGES, REPO, copy_corpus, make_pdf

README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def example_home(tmp_path: Path) -> Path:
    """A home with the five articles, and the files the examples add."""
    copy_corpus(tmp_path)
    shutil.copyfile(PAGES / "lenta_en.html", tmp_path / "page.html")
    make_pdf(tmp_path / "report.pdf", ["Relatório anual. A Meta abriu um centro de dados em Ohio."], "Relatório anual")
    return tmp_path


def test_the_readme_is_a_page_for_users():
    lines = README.splitlines()
    assert len(lines) <= 150
    assert lines[2:6] == ["```bash", *lines[3:5], "```"] and "scripts/run.sh" in lines[3] and "scripts/test.sh" in lines[4]
    assert "../shared" not in README  # nothing outside the repository


def test_the_results_table_is_what_its_command_prints():
    command = re.search(r"Printed by\s+`\.venv/bin/python -m evals ablations ([^`]+)`", README).group(1)
    (names,) = re.findall(r"\{([^}]+)\}", command)
    reports = [command.replace("{" + names + "}", name).strip() for name in names.split(",")]
    printed = subprocess.run([sys.executable, "-m", "evals", "ablations", *reports], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
    header, *rows = [line for line in printed.splitlines() if line.startswith("|") and not line.startswith("|---")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    by_run = {r.strip("|").split("|")[0].strip(): [c.strip() for c in r.strip("|").split("|")] for r in rows}
    table = re.search(r"\| run \|.*?\n\n", README, flags=re.S).group(0).strip().splitlines()
    mine = [c.strip() for c in table[0].strip("|").split("|")]
    assert len(table) == 2 + len(reports)
    for row in table[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name, value in zip(mine, cells):
            assert by_run[cells[0]][columns.index(name)] == value, (cells[0], name)


@pytest.mark.slow
def test_the_python_example_runs(tmp_path, monkeypatch, capsys):
    home = example_home(tmp_path)
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    monkeypatch.chdir(home)
    (code,) = blocks("python")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "49%" in out and "generated" in out  # the first answer, as its comment says
    assert not (home / "corpus" / "meta-opens-a-new-data-centre-in-ohio-c46d202f.html").exists()  # added, removed


@pytest.mark.slow
def test_the_shell_examples_run(tmp_path):
    home = example_home(tmp_path)
    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    commands = [line.split("#")[0].strip() for block in blocks("bash")[1:] for line in block.splitlines()
                if line.startswith(".venv/bin/assistant ")]
    assert len(commands) >= 9
    for command in commands:
        argv = shlex.split(command)[1:]
        done = subprocess.run([sys.executable, "-m", "assistant", "-q", *argv], cwd=home, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        assert done.stdout.strip(), command


def test_the_configuration_example_is_a_valid_config():
    import tomllib

    from assistant import Config

    (toml,) = blocks("toml")
    values = tomllib.loads(toml)
    assert Config.from_dict(values).model == values["model"]
