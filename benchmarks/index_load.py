"""Benchmark loading an index: the whole `load_index`, and the part of it that checks each data file's sha256.

    python benchmarks/index_load.py [INDEX_DIR ...]   (default: index/ of this repository; built if missing)

Run `assistant index` (or ask a question) first for other folders, e.g. ASSISTANT_HOME=/tmp/outside's index/.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from common import REPO  # noqa: F401  (puts the repository on sys.path)

from assistant.index import load_index  # noqa: E402
from assistant.files import sha256_of  # noqa: E402


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or [REPO / "index"]
    if not (folders[0] / "CURRENT").exists() and folders[0] == REPO / "index":
        from assistant import Assistant

        Assistant().index()
    print("| index | files (MB) | passages | load_index p50 (ms) | sha256 checks p50 (ms) | share |")
    print("|---|---|---|---|---|---|")
    for folder in folders:
        index = load_index(folder)
        files = list(index.manifest["files"])
        size = sum((index.path / name).stat().st_size for name in files) / 1e6
        loads, checks = [], []
        for _ in range(7):
            t0 = time.perf_counter()
            load_index(folder)
            t1 = time.perf_counter()
            for name in files:
                sha256_of(index.path / name)
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            checks.append(t2 - t1)
        load, check = statistics.median(loads) * 1000, statistics.median(checks) * 1000
        print(f"| {folder} | {size:.1f} | {len(index.passages):,} | {load:.0f} | {check:.1f} | {check / load:.0%} |")


if __name__ == "__main__":
    main()
