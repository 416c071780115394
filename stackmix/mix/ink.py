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
    """Row of the ink's centre of mass (the middle row for a blank image)."""
    rows = ink_map(img, paper).sum(1)
    total = float(rows.sum())
    if total <= 0:
        return (img.shape[0] - 1) / 2
    return float((rows * np.arange(len(rows))).sum() / total)
