"""Paper level and ink measurements of grayscale line images (dark ink on light paper)."""
from __future__ import annotations

import numpy as np


def paper_level(img: np.ndarray) -> int:
    """The paper's grey level: the median pixel (ink covers well under half of a text line)."""
    hist = np.bincount(img.reshape(-1), minlength=256)
    return int(np.searchsorted(np.cumsum(hist), (img.size + 1) // 2))


def ink_map(img: np.ndarray, paper: int | None = None, margin: float = 0.12) -> np.ndarray:
    """Ink darkness per pixel (float32, 0 on paper): how far below the paper level, minus a noise
    margin (a fraction of the paper level) so that paper texture counts as no ink."""
    if paper is None:
        paper = paper_level(img)
    floor = paper * (1.0 - margin)
    return np.maximum(floor - img.astype(np.float32), 0.0)


def column_ink(img: np.ndarray, paper: int | None = None) -> np.ndarray:
    """Ink per column (sum of darkness down the column), shape (W,)."""
    return ink_map(img, paper).sum(0)


def ink_extent(col_ink: np.ndarray, frac: float = 0.02) -> tuple[int, int] | None:
    """First and one-past-last column whose ink exceeds ``frac`` of the strongest column, or
    ``None`` for a blank image."""
    if col_ink.size == 0 or col_ink.max() <= 0:
        return None
    cols = np.flatnonzero(col_ink > frac * col_ink.max())
    return int(cols[0]), int(cols[-1]) + 1


def ink_centre_row(img: np.ndarray, paper: int | None = None) -> float:
    """Centre row of the line's main ink band (the middle row for a blank image).

    Line crops often hold ascenders and descenders of the neighbouring lines at their top and
    bottom; a plain centre of mass drifts towards them. The band is found as the densest
    quarter-height window of the row profile (the body of the writing), and the centre of mass is
    taken within half a height around it.
    """
    rows = ink_map(img, paper).sum(1)
    h = len(rows)
    if rows.sum() <= 0:
        return (h - 1) / 2
    k = max(1, h // 4)
    peak = int(np.argmax(np.convolve(rows, np.ones(k), mode="same")))
    lo, hi = max(0, peak - h // 4), min(h, peak + h // 4 + 1)
    w = rows[lo:hi]
    if w.sum() <= 0:  # pragma: no cover - the peak window holds ink by construction
        return float(peak)
    return float((w * np.arange(lo, hi)).sum() / w.sum())
