"""Shared by the benchmark scripts: the repository root on sys.path, the dev-set rows, a hash embedder."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def dev_rows() -> list[dict]:
    return [json.loads(line) for line in (REPO / "evals/gold/dev.jsonl").read_text(encoding="utf-8").splitlines()]


from assistant.embed import Embedder  # noqa: E402


class HashEmbedder(Embedder):
    """Each word of a text hashed into one of 384 buckets: deterministic, and costs microseconds."""

    name = "hash"

    def __init__(self) -> None:
        super().__init__("hash", 256)
        self.dim, self.identity = 384, "hash:384"

    def encode_batch(self, texts, kind):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dim] += 1.0
            out[row, 0] += 0.01
        return out
