"""Image effects of a synthetic line: slant and wobble, stroke width, crop, paper and ink."""
from __future__ import annotations

import math

import cv2
import numpy as np


def stroke_width(cov: np.ndarray) -> float:
    """Typical stroke width in px: 2 × ink area / ink boundary length."""
    ink = cov >= 0.5
    area = int(ink.sum())
    if area == 0:
        return 0.0
    inner = ink.copy()
    inner[1:-1, 1:-1] = (ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2]
                         & ink[1:-1, 2:])
    boundary = max(1, area - int(inner[1:-1, 1:-1].sum()))
    return 2.0 * area / boundary


def restroke(cov: np.ndarray, delta: float) -> np.ndarray:
    """Move every stroke edge outwards by ``delta`` px (inwards if negative), anti-aliased.

    The signed distance of each pixel centre to the stroke edge comes from the distance
    transforms, refined near the edge by the anti-aliased coverage (an edge pixel of coverage c
    lies c - 0.5 px inside); ``delta = 0`` leaves ``cov`` unchanged near the edges.
    """
    ink = cov >= 0.5
    inside = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 5)
    signed = np.where(ink, inside - 1.0, 1.0 - outside) + cov - 0.5
    return np.clip(signed + delta + 0.5, 0.0, 1.0).astype(np.float32)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in -1..1 of ``shape``: a small random grid upscaled bicubically."""
    grid = rng.uniform(-1.0, 1.0, cells).astype(np.float32)
    field = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(field, -1.0, 1.0)


def displacement(rng: np.random.Generator, width: int, wobble: float, tilt: float) -> np.ndarray:
    """Vertical shift per column: two sines (amplitudes summing to ``wobble``) plus a tilt."""
    xs = np.arange(width, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi, 2)
    wave = rng.uniform(120.0, 500.0, 2)
    amp = rng.dirichlet([1.0, 1.0]) * wobble
    disp = (amp[0] * np.sin(2 * np.pi * xs / wave[0] + phase[0])
            + amp[1] * np.sin(2 * np.pi * xs / wave[1] + phase[1])
            + tilt * (xs - width / 2.0))
    return disp.astype(np.float32)


def warp(cov: np.ndarray, shear: float, y_ref: float, disp: np.ndarray) -> np.ndarray:
    """Slant then shift columns vertically: source (u, v) lands at
    ``(u + shear * (y_ref - v), v + disp[x])``."""
    h, w = cov.shape
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
    map_y = grid_y - disp[None, :]
    map_x = grid_x - shear * (y_ref - map_y)
    return cv2.remap(cov, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)


def crop_box(
    cov: np.ndarray, band: tuple[float, float], disp: np.ndarray, pad: np.ndarray
) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: the ink's columns and the rows of the ink and of the font band
    (ascender top to descender bottom, moved by ``disp``), each side padded by ``pad``
    (left, right, top, bottom). Empty (x1 <= x0) when there is no ink."""
    h, w = cov.shape
    ink = cov >= 0.25
    cols = np.nonzero(ink.any(axis=0))[0]
    rows = np.nonzero(ink.any(axis=1))[0]
    if cols.size == 0:
        return 0, 0, 0, 0
    shift = disp[cols[0]:cols[-1] + 1]
    top = min(int(rows[0]), math.floor(band[0] + float(shift.min())))
    bottom = max(int(rows[-1]) + 1, math.ceil(band[1] + float(shift.max())))
    return (max(0, int(cols[0]) - int(pad[0])), max(0, top - int(pad[2])),
            min(w, int(cols[-1]) + 1 + int(pad[1])), min(h, bottom + int(pad[3])))


def paint(cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0..1) to a uint8 page: paper grey + gradient + texture, ink, noise, blur."""
    h, w = cov.shape
    paper = float(rng.uniform(195.0, 250.0))
    ink = float(rng.uniform(5.0, min(100.0, paper - 110.0)))
    gradient = float(rng.uniform(-20.0, 20.0)) * (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)
    texture = float(rng.uniform(0.0, 8.0)) * smooth_field(rng, (h, w), (3, max(2, w // 40)))
    paper_img = np.clip(paper + gradient[None, :] + texture, 120.0, 255.0)
    pressure = 1.0 + float(rng.uniform(0.0, 0.25)) * smooth_field(rng, (h, w), (2, max(2, w // 60)))
    ink_img = np.clip(ink * pressure, 0.0, 255.0)
    img = paper_img * (1.0 - cov) + ink_img * cov
    sigma_blur = float(rng.uniform(0.0, 0.9)) if rng.random() < 0.6 else 0.0
    if sigma_blur > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma_blur)
    noise = float(rng.uniform(0.0, 7.0))
    img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
