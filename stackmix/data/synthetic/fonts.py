"""Handwriting fonts of the synthetic dataset (PyPI ``fontpkg_*`` packages), their metrics and a
cache of rendered glyphs.

A line is drawn glyph by glyph (each character's own ink gives its extent), and the same glyph
at the same sub-pixel offset comes up again and again: of the ~90,000 glyphs of the default
dataset only ~12,500 differ (font file, size, weight, character, fractional pen position). So
each is rendered once per process (:func:`glyph`) and pasted from the cache; pen positions come
from cached advances of single characters and pairs (:func:`pen_positions`) instead of measuring
every prefix of the line. Both give exactly what drawing each glyph anew gives.
"""
from __future__ import annotations

import importlib
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from stackmix.data.synthetic.params import FONT_PACKAGES, SyntheticDataError

INK_THRESHOLD = 0.35   # coverage from which a glyph pixel counts as that character's ink

#: (font file, size in px, weight of a variable font or 0): what identifies a drawn font
FontKey = tuple[str, int, int]


def font_files(family: str) -> list[Path]:
    """The TTF files of a font family, found through its ``fontpkg_*`` package's ``ROOT``."""
    package = FONT_PACKAGES.get(family)
    if package is None:
        raise SyntheticDataError(f"unknown font {family!r}; known: {sorted(FONT_PACKAGES)}")
    try:
        module = importlib.import_module(package)
    except ImportError:
        pip_name = package.replace("_", "-")
        raise SyntheticDataError(
            f"the font package {package!r} (font {family!r}) is not installed; the synthetic "
            f"dataset needs it: pip install {pip_name}"
        ) from None
    files = sorted(Path(module.ROOT, "files").glob("*.ttf"))
    if not files:
        raise SyntheticDataError(f"{package} is installed but {module.ROOT}/files has no .ttf file")
    return files


@dataclass(frozen=True)
class FontMetrics:
    """Ink measures of a font at size 1 (multiply by the size in px)."""

    x_height: float  # height of 'x' above the baseline
    ascender: float  # height of 'd' above the baseline
    descender: float  # depth of 'p' below the baseline
    variable: bool  # has a 'wght' axis


@lru_cache(maxsize=512)
def get_font(path: str, size: int, weight: int = 0) -> ImageFont.FreeTypeFont:
    """A Pillow font with the basic layout (no shaping, so one glyph per character)."""
    font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    if weight:
        font.set_variation_by_axes([weight])
    return font


@lru_cache(maxsize=64)
def font_metrics(path: str) -> FontMetrics:
    """Measure x-height, ascender and descender of a font file from the ink of 'x', 'd', 'p'."""
    ref = 200
    font = get_font(path, ref)
    try:
        variable = any(b"eight" in (a.get("name") or b"") for a in font.get_variation_axes())
    except OSError:
        variable = False
    _, xt, _, _ = font.getbbox("x", anchor="ls")
    _, dt, _, _ = font.getbbox("d", anchor="ls")
    _, _, _, pb = font.getbbox("p", anchor="ls")
    return FontMetrics(-xt / ref, -dt / ref, pb / ref, variable)


@lru_cache(maxsize=65536)
def _length(key: FontKey, s: str) -> float:
    return get_font(*key).getlength(s)


@lru_cache(maxsize=64)
def has_kern_table(path: str) -> bool:
    """Whether the font file has a legacy ``kern`` table, the only kerning the basic layout
    applies (read from the sfnt table directory; an unreadable file counts as kerned)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            n = struct.unpack(">H", head[4:6])[0]
            tags = fh.read(16 * n)
        return any(tags[16 * i:16 * i + 4] == b"kern" for i in range(n))
    except (OSError, struct.error):
        return True


def pen_positions(key: FontKey, text: str) -> list[float]:
    """``[getlength(text[:i]) for i in 0..len(text)]``, from cached one- and two-character
    lengths: the basic layout advances by each glyph's width plus the kerning of the pair it
    ends, so ``len(s + c) = len(s) + len(s[-1] + c) - len(s[-1])`` (exact: multiples of 1/64);
    without a ``kern`` table the pair term is 0 and single widths suffice."""
    kerned = has_kern_table(key[0])
    pens = [0.0]
    for i, ch in enumerate(text):
        step = _length(key, ch)
        if kerned and i:
            prev = text[i - 1]
            step = _length(key, prev + ch) - _length(key, prev)
        pens.append(pens[-1] + step)
    return pens


@dataclass(frozen=True)
class Glyph:
    """One character drawn at a sub-pixel offset: coverage 0..1 and its ink pixels, relative to
    the top-left corner ``(left, top)`` given from the pen position on the baseline."""

    coverage: np.ndarray   # (h, w) float32, read-only
    left: int
    top: int
    ink_x: np.ndarray      # columns of the pixels with coverage >= INK_THRESHOLD
    ink_y: np.ndarray


@lru_cache(maxsize=16384)
def glyph(key: FontKey, ch: str, frac: float) -> Glyph:
    """Character ``ch`` of font ``key`` drawn with its pen ``frac`` (0 <= frac < 1) px right of
    an integer column (cached: see the module docstring)."""
    font = get_font(*key)
    l, t, r, b = font.getbbox(ch, anchor="ls")
    im = Image.new("L", (r - l + 2, b - t + 2), 0)
    ImageDraw.Draw(im).text((frac - l, -t), ch, font=font, fill=255, anchor="ls")
    cov = np.asarray(im, np.float32) / 255.0
    cov.flags.writeable = False
    ys, xs = np.nonzero(cov >= INK_THRESHOLD)
    return Glyph(cov, int(l), int(t), xs.astype(np.int32), ys.astype(np.int32))
