"""Building the StackMix token bank (step 3) from char masks: every masked train line scaled to the
bank height, centred on its ink, written once into the pixels file, with the index of every span
(the file layout: :mod:`stackmix.mix.bank`)."""
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
from stackmix.fs import atomic_path, remove_stale_temporaries, unused
from stackmix.mix.bank import FORMAT, VERSION, BankError, bank_prefix, index_path
from stackmix.mix.ink import ink_centre_row, paper_level
from stackmix.mix.masks import CharMasks

__all__ = ["BankSummary", "build_bank", "default_height", "normalize_line"]

log = logging.getLogger(__name__)


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
