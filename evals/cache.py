"""A reader whose replies are remembered on disk, for evaluation runs that change something before the reader
(a refusal check, a ranking signal) and so repeat most prompts: greedy decoding makes a reply a function of its
prompt, so a remembered one is the one the reader would write. Timings of a cached run are not the reader's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from assistant.generate import Generator

__all__ = ["CachedGenerator"]


class CachedGenerator(Generator):
    def __init__(self, inner: Generator, path: str | Path) -> None:
        self.inner, self.path = inner, Path(path)
        self.name, self.description, self.reads = inner.name, inner.description, inner.reads
        self._replies: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self._replies[row["key"]] = row
        self.hits = self.misses = 0

    def _key(self, messages, max_tokens, abstain) -> str:
        blob = json.dumps([self.inner.description, messages, max_tokens,
                           [abstain.word, abstain.threshold] if abstain else None], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def stream(self, messages, max_tokens, abstain=None):
        key = self._key(messages, max_tokens, abstain)
        if key in self._replies:
            self.hits += 1
            row = self._replies[key]
            if abstain is not None:
                abstain.probability = row["probability"]
                abstain.token_probabilities[:] = row.get("token_probabilities", [])
            yield from row["pieces"]
            return
        self.misses += 1
        pieces, complete = [], False
        try:
            for piece in self.inner.stream(messages, max_tokens, abstain):
                pieces.append(piece)
                yield piece
            complete = True
        finally:  # also when the caller stops reading: what it read is the whole reply it uses
            row = {"key": key, "pieces": pieces, "probability": abstain.probability if abstain else None,
                   "token_probabilities": list(abstain.token_probabilities) if abstain else [],
                   "complete": complete}
            self._replies[key] = row
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    def warm(self, messages) -> None:
        self.inner.warm(messages)

    def for_prompt(self, fixed) -> "CachedGenerator":
        """The inner reader's generator for that prompt, remembering replies in the same file."""
        inner = self.inner.for_prompt(fixed)
        if inner is self.inner:
            return self
        sibling = object.__new__(CachedGenerator)
        sibling.__dict__.update(self.__dict__)
        sibling.inner = inner
        return sibling

