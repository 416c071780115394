"""The drawing of HandWritten Blots: pen paths (scribble, the paper's Bézier hatch) and their
rasterisation into a line image. :class:`stackmix.augment.blots.HandwrittenBlots` samples the
parameters and calls these; they are plain functions of a numpy generator, so they can be tested
and reused (e.g. for figures) without albumentations.
"""
from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

__all__ = ["bezier_curve", "draw_blot", "hatch_control_points", "scribble_points"]

_SHIFT = 4  # cv2 sub-pixel bits for polylines
_SCALE = 1 << _SHIFT


def scribble_points(
    rng: np.random.Generator,
    height: int,
    width: int,
    incline: int,
    intensity: float,
    thickness: int,
) -> np.ndarray:
    """Scribble curve in box coordinates (x in ``[0, width + |incline|]``, y in ``[0, height]``).

    The pen oscillates up and down while moving across the box (a trochoid-like path): each
    half-cycle is one down- or up-stroke with its own amplitude, the turns are rounded and, with a
    random "loopiness", become small loops as in fast handwriting. ``incline`` is signed: > 0
    leans the strokes right (top shifted right), < 0 leans them left.
    """
    lean = abs(incline)
    pitch = thickness + 2.0  # horizontal pen advance per stroke at intensity 1
    n = max(3, int(round(intensity * width / pitch)))  # up/down strokes on the way across
    # Half of the time the pen comes back part of the way (a denser, cross-hatched scribble).
    m = int(rng.integers(2, max(3, n // 2 + 1))) if rng.random() < 0.5 else 0
    total = n + m
    k = 10  # samples per stroke
    theta = np.linspace(0.0, total * np.pi, total * k + 1)
    step = width / n
    loop = rng.uniform(0.0, 0.35) * step
    # Progress across the box (0 = left, 1 = right), with a little speed variation per stroke.
    back = 1.0 - m / n * rng.uniform(0.6, 1.0) if m else 1.0
    prog = np.interp(theta, [0.0, n * np.pi, total * np.pi], [0.0, 1.0, back])
    wobble = np.interp(theta, np.arange(total + 1) * np.pi, rng.uniform(-0.3, 0.3, total + 1))
    prog = np.clip(prog + wobble / n, 0.0, 1.0)
    x = loop + prog * (width - 2 * loop) - loop * np.sin(2.0 * theta)
    # Per-stroke amplitude (fraction of the half height) and a slowly drifting centre line.
    amp = np.interp(theta, np.arange(total + 1) * np.pi, rng.uniform(0.55, 1.0, total + 1)) * (height / 2.0)
    centre = height / 2.0 + np.interp(theta, np.arange(total + 1) * np.pi, rng.uniform(-0.1, 0.1, total + 1)) * height
    half = thickness / 2.0
    amp = np.maximum(np.minimum(amp, np.minimum(centre - half, height - half - centre)), 0.0)  # stay inside
    sign = 1.0 if rng.random() < 0.5 else -1.0
    y = centre - sign * amp * np.cos(theta)
    # Slant: the higher the point, the further it moves sideways.
    frac_up = 1.0 - y / max(height, 1)
    x = x + (frac_up * lean if incline >= 0 else (1.0 - frac_up) * lean)
    pts = np.stack([x, y], axis=1).astype(np.float32)
    pts[:, 0] = np.clip(pts[:, 0], half, max(half, width + lean - half))
    pts[:, 1] = np.clip(pts[:, 1], half, max(half, height - half))
    return pts


def hatch_control_points(
    rng: np.random.Generator, height: int, width: int, incline: int, intensity: float,
) -> np.ndarray:
    """Control points of one paper-style hatch stroke, box coordinates (x, y), float (N, 2).

    ``round(20·intensity)`` steps go down the box; the first tenth of them are single points
    anywhere in the box, the others alternate between a cluster near the left edge and one near
    the right edge (10-80 points left, the rest of 80 right). A left cluster's band reaches
    ``|incline|`` pixels lower than its step, which slants the strokes.
    """
    n = max(2, int(round(intensity * 20)))
    step = max(1.0, height / n)
    lean = abs(incline)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for i in range(n):
        top = i * step
        if i < n // 10:
            xs.append(rng.uniform(0, width, 1))
            ys.append(rng.uniform(0, height, 1))
            continue
        left_count = int(rng.integers(10, 80))
        if i % 2 == 0:
            k, lo, hi, band = left_count, 0.01, 0.20, step + lean
        else:
            k, lo, hi, band = 80 - left_count, 0.80, 0.99, step
        xs.append(rng.uniform(lo * width, hi * width, k))
        ys.append(rng.uniform(top, min(top + band, height), k))
    pts = np.stack([np.concatenate(xs), np.concatenate(ys)], axis=1)
    return pts


def bezier_curve(ctrl: np.ndarray, samples: int = 99) -> np.ndarray:
    """The Bézier curve with control points ``ctrl`` (N, 2) at ``samples`` parameters in (0, 1).

    Bernstein weights are computed in log space, so curves of hundreds of control points (the
    paper's hatch strokes) are evaluated without overflow; they are cached per degree.
    """
    ctrl = np.asarray(ctrl, np.float64)
    return _bernstein(len(ctrl) - 1, samples) @ ctrl


@functools.lru_cache(maxsize=256)
def _bernstein(deg: int, samples: int) -> np.ndarray:
    t = np.linspace(0.01, 0.99, samples)[:, None]
    if deg == 0:
        return np.ones((samples, 1))
    i = np.arange(deg + 1)[None, :]
    k = np.arange(1, deg + 1)
    log_binom = np.concatenate([[0.0], np.cumsum(np.log(deg - k + 1) - np.log(k))])
    logw = log_binom[None, :] + i * np.log(t) + (deg - i) * np.log1p(-t)
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    w.setflags(write=False)
    return w


def draw_blot(img: np.ndarray, blot: dict[str, Any]) -> None:
    """Darken ``img`` in place with one blot (see :class:`HandwrittenBlots` params)."""
    x0, y0, x1, y1 = blot["box"]
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    origin = np.array([x0, y0], np.float32)
    if blot.get("curves"):  # paper style: every segment with its own thickness
        for curve in blot["curves"]:
            pts = np.round((curve["points"] - origin) * _SCALE).astype(np.int32)
            segments = np.stack([pts[:-1], pts[1:]], axis=1)  # (N-1, 2, 2)
            th = np.asarray(curve["thicknesses"])
            for t in np.unique(th):  # one call per thickness
                cv2.polylines(mask, list(segments[th == t]), False, 255, int(t), cv2.LINE_AA, _SHIFT)
    else:
        pts = np.round((blot["points"] - origin) * _SCALE).astype(np.int32)
        cv2.polylines(mask, [pts], False, 255, int(blot["thickness"]), cv2.LINE_AA, _SHIFT)
    region = img[y0:y1, x0:x1]
    weight = mask.astype(np.float32) * (float(blot["opacity"]) / 255.0)
    if region.ndim == 3:
        weight = weight[..., None]
    reg = region.astype(np.float32)
    blended = reg - weight * np.maximum(reg - float(blot["ink"]), 0.0)
    # Round towards darker; never above the original value.
    np.minimum(region, np.floor(blended).astype(np.uint8), out=region)
