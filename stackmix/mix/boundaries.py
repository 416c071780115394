"""CTC outputs → per-character pixel boundaries (StackMix step 2, "char masks").

A CTC model emits each character on one or more consecutive frames (a *run*). Boundaries between
consecutive characters are the midpoints between the end of one run and the start of the next;
the outer edges of the first and last character are half a character pitch outside their runs.
Frames are then mapped to pixels of the original image: frame ``f`` of ``T`` starts at model-input
column ``f * W / T`` and input column ``x`` is original column ``x / scale_x``.

Runs come from :mod:`stackmix.ctc`: the greedy (argmax) path's runs, as in the paper (only
meaningful when the path decodes to the reference text), or the forced (Viterbi) alignment of the
*reference* labels, usable also on lines the model decodes with a few errors.
"""
from __future__ import annotations

import numpy as np

from stackmix.ctc import Runs


def frame_boundaries(runs: Runs, num_frames: int) -> np.ndarray:
    """``n + 1`` boundaries in frame units (floats): char ``k`` covers ``[b[k], b[k+1])``.

    Inner boundaries are midpoints between consecutive runs; the outer edges lie half a pitch
    (median centre-to-centre distance) outside the first and last run centres, clipped to the
    frames.
    """
    n = len(runs)
    if n == 0:
        return np.zeros(0)
    starts = runs.starts.astype(np.float64)
    ends = runs.ends.astype(np.float64)
    centres = (starts + ends) / 2
    if n >= 2:
        pitch = float(np.median(np.diff(centres)))
    else:
        pitch = float(ends[0] - starts[0]) + 1.0
    b = np.empty(n + 1)
    b[1:-1] = (ends[:-1] + starts[1:]) / 2
    b[0] = min(starts[0], centres[0] - pitch / 2)
    b[-1] = max(ends[-1], centres[-1] + pitch / 2)
    return np.clip(b, 0.0, float(num_frames))


def frames_to_pixels(bounds: np.ndarray, num_frames: int, input_w: int, scale_x: float,
                     width: int) -> np.ndarray:
    """Frame-unit boundaries → columns of the original image (``scale_x``: input px per original
    px), clipped to ``[0, width]``."""
    px = np.asarray(bounds, dtype=np.float64) * (input_w / num_frames) / scale_x
    return np.clip(px, 0.0, float(width))


def input_scale_x(h: int, w: int, out_h: int, out_w: int, fit: str = "height") -> float:
    """Horizontal scale that ``stackmix.data.image.resize_pad`` applies to an (h, w) image in the
    fit mode ``fit`` (both modes are left-aligned, so no offset: input ``x`` is ``x / scale``)."""
    from stackmix.data.image import fitted_size

    return fitted_size(h, w, out_h, out_w, fit=fit)[1] / w


def refine_with_ink(bounds: np.ndarray, col_ink: np.ndarray, snap: float,
                    tighten_edges: bool = True) -> np.ndarray:
    """Move each inner boundary to the least-inked column within ``± snap × pitch`` (pitch: the
    line's mean character width), never past the neighbouring boundaries' midpoints, and pull the
    outer edges onto the line's ink (dropping blank margins, never cutting ink off).

    ``bounds`` and the result are in original pixels; ``col_ink`` is the ink per column.
    """
    from stackmix.mix.ink import ink_extent

    b = np.asarray(bounds, dtype=np.float64).copy()
    n = len(b) - 1
    w = len(col_ink)
    if n <= 0 or w == 0:
        return b
    if tighten_edges:
        ext = ink_extent(col_ink)
        if ext is not None:
            x0, x1 = ext
            if n == 1 or x0 < b[1]:
                b[0] = max(0.0, x0 - 1.0)
            if n == 1 or x1 > b[-2]:
                b[-1] = min(float(w), x1 + 1.0)
    if snap > 0 and n >= 2:
        pitch = (b[-1] - b[0]) / n
        radius = snap * pitch
        # light smoothing so a single noisy column does not win
        ink = np.convolve(col_ink, np.ones(3) / 3, mode="same")
        orig = b.copy()
        for k in range(1, n):
            lo_lim = (orig[k - 1] + orig[k]) / 2
            hi_lim = (orig[k] + orig[k + 1]) / 2
            lo = int(np.ceil(max(lo_lim, orig[k] - radius, 0)))
            hi = int(np.floor(min(hi_lim, orig[k] + radius, w - 1)))
            if hi <= lo:
                continue
            cols = np.arange(lo, hi + 1)
            vals = ink[lo:hi + 1]
            m = vals.min()
            cand = cols[vals <= m + 1e-6 * max(1.0, m)]
            # several equally light columns: cut in the middle of the run nearest the estimate
            best = int(cand[np.argmin(np.abs(cand + 0.5 - orig[k]))])
            a, z = _gap_around(cand, best)
            b[k] = (a + z + 1) / 2
        b = np.maximum.accumulate(b)
    return b


def _gap_around(cols: np.ndarray, x: int) -> tuple[int, int]:
    """The run of consecutive integers in sorted ``cols`` that contains ``x``."""
    i = int(np.searchsorted(cols, x))
    lo = hi = i
    while lo > 0 and cols[lo - 1] == cols[lo] - 1:
        lo -= 1
    while hi + 1 < len(cols) and cols[hi + 1] == cols[hi] + 1:
        hi += 1
    return int(cols[lo]), int(cols[hi])


def line_boundaries(runs: Runs, num_frames: int, input_w: int, scale_x: float, width: int,
                    col_ink: np.ndarray | None = None, snap: float = 0.0) -> np.ndarray:
    """Runs of one line → ``n + 1`` pixel boundaries in the original image (see module doc)."""
    b = frames_to_pixels(frame_boundaries(runs, num_frames), num_frames, input_w, scale_x, width)
    if col_ink is not None:
        b = refine_with_ink(b, col_ink, snap)
    return b
