"""The embeddings of a build in progress, kept on disk so that an interrupted build resumes where it stopped.

A cold build of a large corpus embeds for hours on 2 cores (docs/scale.md). Every batch an index build embeds is appended to `<index_dir>/.embedded.partial`, one record per text (the first 16 bytes of the sha256
of its kind and text, then its vector), and the next build takes the vectors of the texts it finds there instead
of embedding them again. The file belongs to one embedder (`.embedded.partial.json` names its identity and
dimension; another embedder's file is discarded), and it is removed once a generation has been written. It only
saves time: a file that cannot be read or written is started again or left alone, with one warning, a torn
last record (the process died while writing it) is cut off, and a vector that is not of unit length (damaged on
disk) is embedded again. The vectors read back are the ones the embedder gave
(the embedders here embed a text the same way in any batch, bit for bit: tests/test_index.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import suppress
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Checkpoint"]

DATA = ".embedded.partial"
HEADER = ".embedded.partial.json"
_KEY_BYTES = 16  # of a sha256: 2^-64 odds that two of a billion texts share a key


class Checkpoint:
    """Texts embedded so far by builds of the index in `index_dir` that did not finish; `embed` adds to it."""

    def __init__(self, index_dir: Path, identity: str, dim: int) -> None:
        self.data, self.header = Path(index_dir) / DATA, Path(index_dir) / HEADER
        self._record = np.dtype([("key", f"V{_KEY_BYTES}"), ("vector", "<f4", (dim,))])
        self._want = {"identity": identity, "dim": dim}
        self._rows: dict[bytes, int] = {}
        self._kept = None  # the records found when the build started (mapped)
        self._writable = True
        self.embedded = 0  # texts the embedder ran on during this build
        self.reused = 0  # texts whose vectors came from the file
        try:
            same = json.loads(self.header.read_text(encoding="utf-8")) == self._want
        except (OSError, ValueError):
            same = False
        self._started = same  # else the first batch starts the file again, under this embedder's header
        if same and self.data.is_file():
            self._read()

    def __len__(self) -> int:
        """How many texts the interrupted builds had embedded."""
        return len(self._rows)

    def _read(self) -> None:
        try:
            size = self.data.stat().st_size
            whole = size // self._record.itemsize
            if size != whole * self._record.itemsize:  # the last record was being written when the process died
                os.truncate(self.data, whole * self._record.itemsize)
            if whole:
                self._kept = np.memmap(self.data, dtype=self._record, mode="r", shape=(whole,))
                keys = self._kept["key"].tobytes()
                self._rows = {keys[i:i + _KEY_BYTES]: row for row, i in enumerate(range(0, len(keys), _KEY_BYTES))}
        except (OSError, ValueError) as exc:
            log.warning("index: the vectors of an interrupted build (%s) cannot be read (%s); embedding again",
                        self.data, exc)
            self._kept, self._rows = None, {}

    @staticmethod
    def key(text: str, kind: str = "passage") -> bytes:
        return hashlib.sha256(f"{kind}\0{text}".encode("utf-8", "surrogatepass")).digest()[:_KEY_BYTES]

    def embed(self, texts: list[str], embedder, progress=None) -> np.ndarray:
        """The passage-side vectors of `texts`: from the file where it has them, else embedded and appended to it."""
        keys = [self.key(t) for t in texts]
        rows = [self._rows.get(k, -1) for k in keys]
        out = np.empty((len(texts), self._record["vector"].shape[0]), dtype=np.float32)
        have = [i for i, row in enumerate(rows) if row >= 0]
        if have:
            out[have] = self._kept["vector"][[rows[i] for i in have]]
            # an embedder's vectors have unit length: a record that does not was damaged on disk, embed it again
            whole = np.abs(np.linalg.norm(out[have], axis=1) - 1) < 1e-3
            have = [i for i, ok in zip(have, whole.tolist()) if ok]
            self.reused += len(have)
            if progress is not None and have:
                progress(len(have))
        todo = sorted(set(range(len(texts))) - set(have))
        if todo:
            out[todo] = embedder.embed([texts[i] for i in todo], "passage", progress=progress)
            self.embedded += len(todo)
            self._append([keys[i] for i in todo], out[todo])
        return out

    def _append(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if not self._writable:
            return
        records = np.empty(len(keys), dtype=self._record)
        records["key"] = np.frombuffer(b"".join(keys), dtype=self._record["key"])
        records["vector"] = vectors
        try:
            if not self._started:
                self.header.parent.mkdir(parents=True, exist_ok=True)
                with suppress(OSError):
                    self.data.unlink()  # another embedder's records, or none
                self.header.write_text(json.dumps(self._want), encoding="utf-8")
                self._started = True
            with open(self.data, "ab") as fh:
                fh.write(records.tobytes())
        except OSError as exc:
            self._writable = False
            log.warning("index: cannot keep the vectors embedded so far in %s (%s); an interrupted build will "
                        "start again", self.data, exc)

    def remove(self) -> None:
        """Forget the vectors (the build they were for has been written)."""
        self._kept, self._rows = None, {}
        for path in (self.data, self.header):
            with suppress(OSError):
                path.unlink()
