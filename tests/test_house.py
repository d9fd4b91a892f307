"""The house rules of the package, held by a test so that they cannot drift again: one room per job (no file over
450 lines, no function over 60 lines or six parameters), backends named only inside stores/, and no private name
of one module used in another."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "assistant"


def modules() -> list[tuple[str, ast.Module, str]]:
    return [(str(p.relative_to(PACKAGE)), ast.parse(text := p.read_text(encoding="utf-8")), text)
            for p in sorted(PACKAGE.rglob("*.py"))]


def parameters(fn: ast.FunctionDef) -> int:
    a = fn.args
    n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
    return n - (1 if a.args and a.args[0].arg in ("self", "cls") else 0)


def test_one_room_per_job():
    too_long, too_many = [], []
    for name, tree, text in modules():
        if len(text.splitlines()) > 450:
            too_long.append(name)
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if fn.end_lineno - fn.lineno + 1 > 60:
                    too_long.append(f"{name}:{fn.name}")
                if parameters(fn) > 6:
                    too_many.append(f"{name}:{fn.name}")
    assert too_long == [] and too_many == []


def test_only_the_stores_package_names_a_backend():
    named = [name for name, tree, text in modules() if not name.startswith("stores/")
             and (re.search(r"\b(FaissStore|PostgresStore)\b", text) or any(
                 isinstance(n, ast.Import) and any(a.name.split(".")[0] == "faiss" for a in n.names)
                 for n in ast.walk(tree)))]
    assert named == []


def test_no_private_name_crosses_a_module():
    crossing = []
    for folder in (PACKAGE, REPO / "benchmarks", REPO / "evals", REPO / "tests"):
        for path in sorted(folder.rglob("*.py")):
            if path.name == "conftest.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("assistant", ".")) and \
                        node.level >= 0 and (node.module or node.level):
                    crossing += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")
                                 and not a.name.startswith("__")]
    assert crossing == []
