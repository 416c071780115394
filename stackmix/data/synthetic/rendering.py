"""One synthetic line: glyphs drawn at their pen positions, warped, restroked, cropped, painted,
with each character's column range in the final image."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stackmix.data.synthetic.effects import (crop_box, displacement, paint, restroke,
                                             stroke_width, warp)
from stackmix.data.synthetic.fonts import FontKey, font_metrics, get_font, glyph, pen_positions
from stackmix.data.synthetic.params import SyntheticDataError


@dataclass
class Rendered:
    """A rendered line: grayscale image and one ``[x0, x1)`` column range per character."""

    image: np.ndarray  # (H, W) uint8, dark ink on light paper
    extents: list[list[int]]
    font_file: str
    size: int


def draw_glyphs(
    text: str, key: FontKey, origin: tuple[float, float], shape: tuple[int, int]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray] | None]]:
    """Draw ``text`` glyph by glyph at the pen positions of the whole string.

    Returns the coverage canvas (float32 in 0..1) and, per character, the canvas (x, y)
    coordinates of its pixels with coverage >= 0.35 (``None`` for characters without ink).
    """
    canvas = np.zeros(shape, np.float32)
    ox, baseline = origin
    pens = pen_positions(key, text)
    inks: list[tuple[np.ndarray, np.ndarray] | None] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            inks.append(None)
            continue
        pen = ox + pens[i]
        ix = math.floor(pen)
        g = glyph(key, ch, pen - ix)
        gx, gy = ix + g.left, int(baseline) + g.top
        paste_max(canvas, g.coverage, gx, gy)
        inks.append((g.ink_x + gx, g.ink_y + gy) if g.ink_x.size else None)
    return canvas, inks


def paste_max(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """``canvas[y:, x:] = max(canvas, patch)`` over the overlap (patch may stick out)."""
    H, W = canvas.shape
    h, w = patch.shape
    cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    region = canvas[cy0:cy1, cx0:cx1]
    np.maximum(region, patch[cy0 - y:cy1 - y, cx0 - x:cx1 - x], out=region)


def render_line(
    text: str,
    font_file: str | Path,
    rng: np.random.Generator,
    x_height: tuple[float, float] = (15.0, 22.0),
) -> Rendered:
    """Render ``text`` as a handwriting-like line image with random style drawn from ``rng``.

    Randomized: x-height (sets the font size), weight of variable fonts, slant (shear), baseline
    wobble, stroke width, paper and ink grey levels, paper gradient and texture, Gaussian noise,
    blur, crop padding. The crop keeps the ink plus the font's ascender/descender band.
    ``extents[i]`` is the ``[x0, x1)`` range of columns holding character ``i``'s own ink in the
    returned image (before noise/blur); a space spans the gap between its neighbours' ink.
    """
    font_file = str(font_file)
    metrics = font_metrics(font_file)
    xh = float(rng.uniform(*x_height))
    size = max(8, int(round(xh / metrics.x_height)))
    weight = int(rng.choice(np.arange(400, 701, 50))) if metrics.variable else 0
    key = (font_file, size, weight)
    font = get_font(*key)

    xh_px = metrics.x_height * size
    asc, desc = metrics.ascender * size, metrics.descender * size
    shear = float(rng.uniform(-0.2, 0.3))
    wobble = float(rng.uniform(0.0, 0.22)) * xh_px
    tilt = float(rng.uniform(-0.015, 0.015))

    ascent, descent = font.getmetrics()
    length = font.getlength(text)
    vmargin = int(math.ceil(wobble + abs(tilt) * length)) + 6
    height = ascent + descent + 2 * vmargin
    hmargin = int(math.ceil(abs(shear) * height)) + 6
    width = int(math.ceil(length)) + 2 * hmargin + size
    baseline = float(vmargin + ascent)
    cov, inks = draw_glyphs(text, key, (hmargin, baseline), (height, width))

    y_ref = baseline - xh_px / 2.0  # the slant pivots on the middle of the x-height
    disp = displacement(rng, width, wobble, tilt)
    cov = warp(cov, shear, y_ref, disp)

    # stroke width: move edges by delta px, keeping the stroke between ~0.10 and 0.26 x-height
    stroke = stroke_width(cov)
    delta = float(rng.uniform(-0.4, 0.8))
    delta = min(delta, max(0.0, (0.26 * xh_px - stroke) / 2.0))
    delta = max(delta, min(0.0, max((0.10 * xh_px - stroke) / 2.0, 1.2 - stroke / 2.0)))
    if abs(delta) > 0.15:
        cov = restroke(cov, delta)
    else:
        delta = 0.0

    band = (baseline - asc, baseline + desc)
    x0, y0, x1, y1 = crop_box(cov, band, disp, rng.integers(2, 9, 4))
    if x1 <= x0:
        raise SyntheticDataError(f"no ink rendered for {text!r} with {font_file}")
    cov = cov[y0:y1, x0:x1]
    # per character [x0, x1) in the cropped image, both ends non-decreasing, clipped to the width
    extents = monotone(glyph_ranges(text, inks, shear, y_ref, delta, x0, x1 - x0), x1 - x0)
    image = paint(cov, rng)
    return Rendered(image, extents, font_file, size)


def glyph_ranges(
    text: str,
    inks: list[tuple[np.ndarray, np.ndarray] | None],
    shear: float,
    y_ref: float,
    delta: float,
    crop_x0: int,
    crop_w: int,
) -> list[list[int]]:
    """Per character ``[x0, x1)`` columns of its own ink in the cropped image.

    A glyph's ink pixel at canvas (u, v) lands at column ``u + shear * (y_ref - v)`` (the
    vertical wobble moves no pixel sideways), which the interpolation spreads over the two
    nearest columns; the range is widened (or narrowed) by the stroke change ``delta``.
    Characters without ink (spaces) get the gap between the ink of the nearest characters on
    either side (a zero-width range at the middle when those overlap).
    """
    n = len(text)
    ranges: list[list[int] | None] = [None] * n
    for i, ink in enumerate(inks):
        if ink is None:
            continue
        u, v = ink
        col = u + shear * (y_ref - v.astype(np.float64))
        lo = math.floor(float(col.min()) - delta)
        hi = math.ceil(float(col.max()) + delta) + 1
        ranges[i] = [lo - crop_x0, max(hi, lo + 1) - crop_x0]
    for i in range(n):
        if ranges[i] is not None:
            continue
        left = next((ranges[j][1] for j in range(i - 1, -1, -1) if ranges[j] is not None), 0)
        right = next((ranges[j][0] for j in range(i + 1, n) if ranges[j] is not None), crop_w)
        if left > right:
            left = right = (left + right) // 2
        ranges[i] = [left, right]
    return ranges  # type: ignore[return-value]


def monotone(ranges: list[list[int]], width: int) -> list[list[int]]:
    """Clip to ``[0, width]`` and make starts and ends non-decreasing (running maxima)."""
    out: list[list[int]] = []
    lo_run = hi_run = 0
    for a, b in ranges:
        lo_run = max(lo_run, min(max(int(a), 0), width))
        hi_run = max(hi_run, lo_run, min(max(int(b), 0), width))
        out.append([lo_run, hi_run])
    return out
