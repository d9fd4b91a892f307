"""Gold question files: JSON Lines with exactly the keys id, lang, question, answers, source, evidence, answerable.

`load_gold` checks every line against that schema and says which line is wrong; it does not check the evidence
against the corpus (the tests do that for the committed files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

KEYS = ("id", "lang", "question", "answers", "source", "evidence", "answerable")


class GoldError(ValueError):
    pass


@dataclass(frozen=True)
class GoldItem:
    id: str
    lang: str
    question: str
    answers: tuple[str, ...]
    source: str | None
    evidence: str | None
    answerable: bool


def json_rows(path: str | Path, what: str = "gold file") -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-blank line of a JSON Lines file; `GoldError` naming the line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldError(f"{path}:{n}: not JSON ({exc.msg})") from None


def load_gold(path: str | Path) -> list[GoldItem]:
    items: list[GoldItem] = []
    seen: set[str] = set()
    for n, row in json_rows(path):
        if not isinstance(row, dict) or set(row) != set(KEYS):
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise GoldError(f"{path}:{n}: keys must be exactly {', '.join(KEYS)}; got {got}")
        if not isinstance(row["answerable"], bool) or not isinstance(row["answers"], list):
            raise GoldError(f"{path}:{n}: 'answerable' must be true/false and 'answers' a list")
        if row["answerable"] and not (row["source"] and row["evidence"] and row["answers"]):
            raise GoldError(f"{path}:{n}: an answerable item needs answers, source and evidence")
        if row["id"] in seen:
            raise GoldError(f"{path}:{n}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        items.append(GoldItem(row["id"], row["lang"], row["question"], tuple(row["answers"]), row["source"],
                              row["evidence"], row["answerable"]))
    return items
