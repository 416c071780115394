"""The StackMix token bank (step 3): crops of every span of 1..``max_span`` characters of the
masked train lines, in one memory-mapped file.

Rather than one image per crop, the bank stores each masked line once, scaled to the bank height
and vertically centred on its ink; a crop is a column range of its line. Spans overlap, so this
is ~10× smaller than storing crops, and cutting a crop is a slice.

Files, for a bank prefix ``<dir>/bank``:

* ``<dir>/bank-<build id>.pixels.npy``: uint8 array (total columns, height): the lines' columns
  one after another, **transposed** so a crop ``[x0, x1)`` is one contiguous block
  ``pixels[x0:x1]`` (its image is ``pixels[x0:x1].T``). Opened with ``np.load(mmap_mode="r")``:
  DataLoader workers share the OS page cache instead of holding copies.
* ``<dir>/bank.index.npz`` (small): ``spans`` (sorted distinct span strings),
  ``span_start`` (crops of span ``s`` are ``span_start[s]:span_start[s+1]``), ``crop_g``
  (per crop, the index in ``bounds`` of its first character's left edge; the crop of a span of
  ``L`` characters is ``bounds[g]:bounds[g+L]``), ``bounds`` (per line ``n+1`` strictly
  increasing pixel columns in the pixel array), ``line_bound0`` (where each line's boundaries
  start in ``bounds``), ``line_paper`` (paper grey level per line), ``line_ids`` (sample ids) and
  ``meta`` (JSON: format, version, height, build id, pixel file name and shape, source).

Both files are written atomically, pixels first, index last; the index names the pixel file it
belongs to (by build id), so an interrupted build leaves the previous bank usable and never an
index pointing at a half-written or mismatched pixel file.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from stackmix.fs import hold_shared

log = logging.getLogger(__name__)

FORMAT = "stackmix-bank"
VERSION = 1
INDEX_SUFFIX = ".index.npz"


class BankError(ValueError):
    """The token bank is missing, incomplete or inconsistent."""


class BankNotFoundError(BankError, FileNotFoundError):
    """No token bank at the configured path."""


def index_path(prefix: str | Path) -> Path:
    prefix = Path(prefix)
    if prefix.name.endswith(INDEX_SUFFIX):
        return prefix
    return prefix.with_name(prefix.name + INDEX_SUFFIX)


def bank_prefix(path: str | Path) -> Path:
    """The bank prefix for a prefix or an index file path."""
    path = Path(path)
    if path.name.endswith(INDEX_SUFFIX):
        return path.with_name(path.name[: -len(INDEX_SUFFIX)])
    return path


_INDEX_ARRAYS = ("spans", "span_start", "crop_g", "bounds", "line_bound0", "line_paper", "line_ids")


class TokenBank:
    """Read access to a bank. The index is loaded on open (small); the pixel file is memory-
    mapped on first use.

    A bank stays the one that was opened, even if it is rebuilt meanwhile: pickled copies (in
    DataLoader workers) carry the index itself, not its path, and the opening process holds a
    shared lock on its pixel file (named by build id), which a rebuild does not delete."""

    def __init__(self, prefix: str | Path):
        self.prefix = bank_prefix(prefix)
        self._pixels: np.ndarray | None = None
        self._load_index()
        self._hold = hold_shared(self.pixels_path)

    @classmethod
    def open(cls, prefix: str | Path) -> "TokenBank":
        return cls(prefix)

    def _load_index(self) -> None:
        idx = index_path(self.prefix)
        if not idx.is_file():
            raise BankNotFoundError(f"StackMix token bank not found: {idx} does not exist")
        try:
            with np.load(idx, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in _INDEX_ARRAYS}
        except (OSError, ValueError, KeyError) as e:
            raise BankError(f"{idx} is not a readable token bank index ({e}); rebuild it with "
                            "`python prepare.py task=stackmix ...`") from None
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise BankError(f"{idx}: unsupported bank format {meta.get('format')!r} version "
                            f"{meta.get('version')!r} (expected {FORMAT!r} {VERSION}); rebuild it "
                            "with `python prepare.py task=stackmix ...`")
        self._set_index(meta, arrays)

    def _set_index(self, meta: dict, arrays: dict) -> None:
        for k in _INDEX_ARRAYS:
            setattr(self, k, arrays[k])
        self.meta = meta
        self.height = int(meta["height"])
        self.span_len = np.char.str_len(self.spans).astype(np.int64)
        # crop → line (for its paper level), by the position of its first boundary
        line = np.searchsorted(self.line_bound0, self.crop_g, side="right") - 1
        self.crop_paper = self.line_paper[line]
        self._span_ids: dict[str, int] | None = None
        self._chars: frozenset[str] | None = None

    # pickling: the index itself (this build's, even if the bank was rebuilt since) and the
    # path; the memory map is reopened in the receiving process
    def __getstate__(self) -> dict:
        return {"prefix": str(self.prefix), "meta": self.meta,
                "arrays": {k: getattr(self, k) for k in _INDEX_ARRAYS}}

    def __setstate__(self, state: dict) -> None:
        self.prefix = Path(state["prefix"])
        self._pixels = None
        self._set_index(state["meta"], state["arrays"])
        self._hold = hold_shared(self.pixels_path)

    @property
    def pixels_path(self) -> Path:
        return self.prefix.with_name(self.meta["pixels_file"])

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            p = self.pixels_path
            if not p.is_file():
                raise BankError(f"bank pixel file {p} (named by {index_path(self.prefix)}) is "
                                "missing: rebuild the bank with `python prepare.py task=stackmix ...`")
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
            if list(arr.shape) != list(self.meta["pixels_shape"]) or arr.dtype != np.uint8:
                raise BankError(f"bank pixel file {p} has shape {arr.shape} {arr.dtype}, the "
                                f"index expects {self.meta['pixels_shape']} uint8: rebuild the bank")
            self._pixels = arr
        return self._pixels

    @property
    def span_ids(self) -> dict[str, int]:
        if self._span_ids is None:
            self._span_ids = {str(s): i for i, s in enumerate(self.spans.tolist())}
        return self._span_ids

    @property
    def num_crops(self) -> int:
        return len(self.crop_g)

    @property
    def chars(self) -> frozenset[str]:
        """Characters the bank can render (those with a crop of their own)."""
        if self._chars is None:
            self._chars = frozenset(str(s) for s in self.spans[self.span_len == 1].tolist())
        return self._chars

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` the bank cannot render, in order of first occurrence."""
        have = self.chars
        return list(dict.fromkeys(c for c in text if c not in have))

    def crop_columns(self, crop: int, length: int) -> tuple[int, int]:
        g = int(self.crop_g[crop])
        return int(self.bounds[g]), int(self.bounds[g + length])

    def crop(self, span: str, j: int = 0) -> np.ndarray:
        """Image (height, w) of crop ``j`` of ``span``."""
        s = self.span_ids[span]
        c = int(self.span_start[s]) + j
        if not self.span_start[s] <= c < self.span_start[s + 1]:
            raise IndexError(f"span {span!r} has {self.span_start[s + 1] - self.span_start[s]} crops")
        x0, x1 = self.crop_columns(c, len(span))
        return np.ascontiguousarray(self.pixels[x0:x1].T)

    def count(self, span: str) -> int:
        s = self.span_ids.get(span)
        return 0 if s is None else int(self.span_start[s + 1] - self.span_start[s])

    def describe(self) -> str:
        return (f"{self.prefix}: {len(self.spans)} spans, {self.num_crops} crops from "
                f"{len(self.line_ids)} lines, height {self.height}, {len(self.chars)} characters")
