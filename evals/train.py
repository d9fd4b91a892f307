"""The training set (`../shared/train`) and its two parts: every tuned value of the assistant is fitted on one part
and its operating point chosen on the other, never on an evaluation set.

- `split_of(source)`: a document's part, by the CRC-32 of its file name: "fit" (7 in 10 documents) or "choose".
  Questions follow their document, so no document is read in both parts.
- `sample(items, part, sizes, seed)`: a fixed random sample of one part's questions, by kind (PIAF answerable, SQuAD
  answerable, SQuAD unanswerable), the same on every machine.
"""

from __future__ import annotations

import random
import zlib
from typing import Sequence

from .gold import GoldItem

__all__ = ["PARTS", "split_of", "kind_of", "sample"]

PARTS = ("fit", "choose")


def split_of(source: str | None) -> str:
    return "fit" if zlib.crc32((source or "").encode()) % 10 < 7 else "choose"


def kind_of(item: GoldItem) -> str:
    """"piaf", "squad" or "squad-unanswerable" (an id's prefix, then answerability)."""
    family = "squad" if item.id.startswith("squad") else item.id.split("-")[0]
    return family if item.answerable else f"{family}-unanswerable"


def sample(items: Sequence[GoldItem], part: str, sizes: dict[str, int], seed: int = 0) -> list[GoldItem]:
    """Up to sizes[kind] questions of each kind from documents of `part`, in a fixed shuffled order."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    rng = random.Random(seed)
    chosen: list[GoldItem] = []
    for kind, n in sizes.items():
        pool = [g for g in items if split_of(g.source) == part and kind_of(g) == kind]
        chosen += rng.sample(pool, min(n, len(pool)))
    rng.shuffle(chosen)
    return chosen
