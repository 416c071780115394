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
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from stackmix.data.image import read_gray
from stackmix.fs import atomic_path, hold_shared, remove_stale_temporaries, unused
from stackmix.mix.ink import ink_centre_row, paper_level
from stackmix.mix.masks import CharMasks

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


# ---------------------------------------------------------------------------------- building
def normalize_line(img: np.ndarray, height: int) -> tuple[np.ndarray, float, int]:
    """Scale a grayscale line to ``height`` rows and shift it vertically so that its ink's centre
    of mass sits on the middle row (rows moved in are filled with the line's paper level).

    Returns ``(image (height, w'), horizontal scale, paper level)``.
    """
    h, w = img.shape
    s = height / h
    nw = max(1, int(round(w * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(img, (nw, height), interpolation=interp)
    paper = paper_level(img)
    dy = int(round((height - 1) / 2 - ink_centre_row(scaled, paper)))
    if dy:
        out = np.full_like(scaled, paper)
        if dy > 0:
            out[dy:] = scaled[: height - dy]
        else:
            out[:dy] = scaled[-dy:]
        scaled = out
    return scaled, nw / w, paper


def _column_bounds(bounds: list[float], sx: float, width: int) -> np.ndarray | None:
    """Pixel boundaries → strictly increasing integer columns within ``[0, width]`` (each
    character at least one column wide), or ``None`` if the line is too narrow for that."""
    b = np.rint(np.asarray(bounds, dtype=np.float64) * sx).astype(np.int64)
    b = np.clip(b, 0, width)
    k = np.arange(len(b))
    b = np.maximum.accumulate(b - k) + k  # strictly increasing by at least 1
    if b[-1] > width:
        # push back from the right end, again keeping one column per character
        b = np.minimum(b, width - (len(b) - 1 - k))
        if b[0] < 0:
            return None
    return b


def default_height(masks: CharMasks, fallback: int = 128, upscale: bool = False) -> int:
    """The bank height for ``masks``: the masked model's input height, but (unless ``upscale``)
    not above the lines' own height (95th percentile), since upscaling stores no information: the
    data loader scales generated lines to the training size exactly as it scales real ones."""
    h = int(masks.meta.get("image_h") or fallback)
    if not upscale and masks.lines:
        native = int(np.percentile([m.height for m in masks.lines], 95))
        h = min(h, max(8, native))
    return h


@dataclass
class BankSummary:
    prefix: str
    lines: int
    lines_skipped: int
    spans: int
    crops: int
    crops_before_cap: int
    pixels_bytes: int
    index_bytes: int
    height: int
    seconds: float

    def __str__(self) -> str:
        mb = (self.pixels_bytes + self.index_bytes) / 1e6
        return (f"token bank {self.prefix}: {self.lines} lines ({self.lines_skipped} skipped), "
                f"{self.spans} distinct spans, {self.crops} crops (of {self.crops_before_cap} "
                f"before the per-span cap), height {self.height} px, {mb:.1f} MB "
                f"(pixels {self.pixels_bytes / 1e6:.1f} MB + index {self.index_bytes / 1e6:.1f} MB), "
                f"built in {self.seconds:.1f} s")


def build_bank(
    masks: CharMasks,
    prefix: str | Path,
    *,
    height: int,
    root: str | Path | None = None,
    max_span: int = 8,
    max_per_span: int = 100,
    seed: int = 0,
    images: dict[str, np.ndarray] | None = None,
    progress: bool = False,
) -> BankSummary:
    """Build the bank from char masks and write it under ``prefix`` (see module doc).

    ``root``: the dataset folder (default: the one recorded in ``masks``); ``images``: optional
    ``{sample_id: grayscale image}`` used instead of reading files (tests).
    """
    t0 = time.perf_counter()
    if height < 4:
        raise BankError(f"bank height must be at least 4 px, got {height}")
    if max_span < 1 or max_per_span < 1:
        raise BankError("max_span and max_per_span must be at least 1")
    prefix = bank_prefix(prefix)
    remove_stale_temporaries(prefix.parent, f".{prefix.name}*")  # left by a killed build
    root = Path(root if root is not None else masks.root)
    rng = np.random.default_rng(seed)

    columns: list[np.ndarray] = []
    bounds_list: list[np.ndarray] = []
    line_ids: list[str] = []
    line_paper: list[int] = []
    span_text: list[str] = []
    span_g: list[np.ndarray] = []
    x_off = 0
    g_off = 0
    skipped = 0
    it = masks.lines
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="token bank", unit="line")
    for m in it:
        img = images[m.sample_id] if images is not None else read_gray(root / m.path)
        if img.shape[1] != m.width:  # boundaries are in the pixels of the masked image
            sx0 = img.shape[1] / m.width
            bnds = [b * sx0 for b in m.bounds]
        else:
            bnds = m.bounds
        line, sx, paper = normalize_line(img, height)
        cols = _column_bounds(bnds, sx, line.shape[1])
        if cols is None:
            skipped += 1
            continue
        n = len(m.text)
        columns.append(np.ascontiguousarray(line.T))
        bounds_list.append(cols + x_off)
        line_ids.append(m.sample_id)
        line_paper.append(paper)
        text = m.text
        for length in range(1, min(max_span, n) + 1):
            span_text.extend(text[i:i + length] for i in range(n - length + 1))
            span_g.append(np.arange(g_off, g_off + n - length + 1, dtype=np.int64))
        x_off += line.shape[1]
        g_off += n + 1
    if not columns:
        raise BankError("no usable lines in the char masks: nothing to put in the bank")

    # group crops by span text; keep at most max_per_span random crops of each
    keys = np.array(span_text, dtype=f"<U{max_span}")
    g_all = np.concatenate(span_g)
    spans, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.lexsort((rng.random(len(keys)), inverse))
    counts = np.bincount(inverse, minlength=len(spans))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(order)) - first[inverse[order]]
    kept = order[rank < max_per_span]
    kept_counts = np.minimum(counts, max_per_span)
    span_start = np.concatenate([[0], np.cumsum(kept_counts)]).astype(np.int64)
    crop_g = g_all[kept].astype(np.int32 if g_off < 2**31 else np.int64)

    pixels = np.concatenate(columns, axis=0)
    bounds = np.concatenate(bounds_list).astype(np.int32 if x_off < 2**31 else np.int64)
    line_bound0 = np.concatenate([[0], np.cumsum([len(b) for b in bounds_list])[:-1]])
    build_id = uuid.uuid4().hex[:12]
    pixels_name = f"{prefix.name}-{build_id}.pixels.npy"
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "build_id": build_id,
        "pixels_file": pixels_name,
        "pixels_shape": list(pixels.shape),
        "height": int(height),
        "max_span": int(max_span),
        "max_per_span": int(max_per_span),
        "seed": int(seed),
        "dataset": masks.dataset,
        "root": str(root),
        "normalize": masks.meta.get("normalize"),
        "masks_meta": masks.meta,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    pixels_path = prefix.with_name(pixels_name)
    with atomic_path(pixels_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, pixels)
    idx = index_path(prefix)
    with atomic_path(idx) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                spans=spans,
                span_start=span_start,
                crop_g=crop_g,
                bounds=bounds,
                line_bound0=line_bound0.astype(np.int64),
                line_paper=np.asarray(line_paper, dtype=np.uint8),
                line_ids=np.asarray(line_ids, dtype=str),
                meta=np.asarray(json.dumps(meta, ensure_ascii=False)),
            )
    _remove_stale_pixels(prefix, keep=pixels_name)
    return BankSummary(
        prefix=str(prefix), lines=len(columns), lines_skipped=skipped, spans=len(spans),
        crops=int(len(kept)), crops_before_cap=int(len(keys)),
        pixels_bytes=pixels_path.stat().st_size, index_bytes=idx.stat().st_size,
        height=int(height), seconds=time.perf_counter() - t0,
    )


def _remove_stale_pixels(prefix: Path, keep: str) -> None:
    """Remove older pixel files of this bank, except those a running training still reads (it
    holds a shared lock on the one it opened; a later build removes them)."""
    for f in prefix.parent.glob(f"{prefix.name}-*.pixels.npy"):
        if f.name == keep:
            continue
        if not unused(f):
            log.info("kept the previous bank pixels %s: a running process still reads them", f)
            continue
        try:
            f.unlink()
        except OSError:  # pragma: no cover - another process may hold it open (Windows)
            log.warning("could not remove the old bank pixels %s", f)


# ---------------------------------------------------------------------------------- reading
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
