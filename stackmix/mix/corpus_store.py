"""A corpus's lines as ONE UTF-8 byte array plus int64 offsets (:class:`CorpusLines`), in memory
or written once to ``<prefix>.bytes`` / ``.offsets.npy`` (:class:`LinesWriter`, atomically) and
memory-mapped by every DataLoader worker."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

__all__ = ["CorpusLines", "LinesWriter"]


class CorpusLines:
    """Read-only sequence of lines stored as one UTF-8 byte array and line offsets.

    ``len(c)``, ``c[i]`` (a ``str``), iteration and ``c.sample(rng)``. Pickles as its file prefix
    when it was opened from disk (each process memory-maps the files on first use), else as the
    two arrays.
    """

    def __init__(self, data: np.ndarray, offsets: np.ndarray, prefix: str | None = None):
        self._data = data
        self._offsets = offsets
        self.prefix = prefix

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "CorpusLines":
        blobs = [t.encode("utf-8") for t in texts]
        offsets = np.zeros(len(blobs) + 1, np.int64)
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
        return cls(np.frombuffer(b"".join(blobs), np.uint8), offsets)

    @classmethod
    def open(cls, prefix: str | os.PathLike) -> "CorpusLines":
        c = cls(None, None, str(prefix))  # type: ignore[arg-type]
        c._load()
        return c

    def _load(self) -> None:
        prefix = Path(self.prefix)
        self._offsets = np.load(f"{prefix}.offsets.npy", mmap_mode="r")
        size = int(self._offsets[-1])
        self._data = (np.memmap(f"{prefix}.bytes", np.uint8, mode="r", shape=(size,))
                      if size else np.zeros(0, np.uint8))

    def __getstate__(self) -> dict:
        if self.prefix is not None:
            return {"prefix": self.prefix}
        return {"prefix": None, "data": np.asarray(self._data), "offsets": np.asarray(self._offsets)}

    def __setstate__(self, state: dict) -> None:
        self.prefix = state["prefix"]
        self._data = state.get("data")
        self._offsets = state.get("offsets")

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._offsets is None:
            self._load()
        return self._data, self._offsets

    def __len__(self) -> int:
        return len(self._arrays()[1]) - 1

    def __getitem__(self, i: int) -> str:
        data, off = self._arrays()
        n = len(off) - 1
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"corpus line {i} out of range (0..{n - 1})")
        return bytes(data[int(off[i]):int(off[i + 1])]).decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def sample(self, rng: np.random.Generator) -> str:
        return self[int(rng.integers(len(self)))]


class LinesWriter:
    """Appends lines to a bytes file (or memory) and keeps their offsets in a compact array."""

    def __init__(self, path: Path | None):
        self._fh = open(path, "wb") if path is not None else None
        self._chunks: list[bytes] = []
        self._lengths = np.zeros(1 << 16, np.int64)
        self.n = 0

    def add(self, text: str) -> None:
        b = text.encode("utf-8")
        if self._fh is not None:
            self._fh.write(b)
        else:
            self._chunks.append(b)
        if self.n == len(self._lengths):
            self._lengths = np.resize(self._lengths, 2 * self.n)
        self._lengths[self.n] = len(b)
        self.n += 1

    def offsets(self) -> np.ndarray:
        off = np.zeros(self.n + 1, np.int64)
        np.cumsum(self._lengths[:self.n], out=off[1:])
        return off

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def memory(self) -> CorpusLines:
        return CorpusLines(np.frombuffer(b"".join(self._chunks), np.uint8), self.offsets())
