"""Shared by the benchmark scripts: the repository root on sys.path, the dev-set rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def dev_rows() -> list[dict]:
    return [json.loads(line) for line in (REPO / "evals/gold/dev.jsonl").read_text(encoding="utf-8").splitlines()]
