"""The embedded default dataset: synthetic handwriting-like text lines, generated on first use.

Lines of 2-5 English words (``wordfreq``) are rendered with handwriting fonts shipped as PyPI
packages (``fontpkg_*``), then slanted, made to wobble, thickened or thinned, put on uneven paper
with noise and blur, and cropped to the ink. Everything is a function of the seed and the line's
(stage, index), so the result does not depend on the number of worker processes.

The split is by font: valid and test each use fonts absent from train (see ``DEFAULT_FONTS``).

The output folder holds ``marking.csv`` (``sample_id,path,stage,text,font``), ``lines/*.png``
(8-bit grayscale), ``char_extents.json`` (per sample, one ``[x0, x1)`` pixel column range per
character of the text, spaces included) and ``synthetic.json`` (the parameters; written last).
"""
from __future__ import annotations

import importlib
import json
import logging
import math
import multiprocessing as mp
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from filelock import FileLock
from PIL import Image, ImageDraw, ImageFont

from stackmix.data.marking import STAGES, write_marking
from stackmix.fs import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
PARAMS_FILE = "synthetic.json"
EXTENTS_FILE = "char_extents.json"
LINES_DIR = "lines"

#: font family name -> PyPI package (import name) that ships its TTF files under ``ROOT/files``.
FONT_PACKAGES: dict[str, str] = {
    "caveat": "fontpkg_caveat",
    "kalam": "fontpkg_kalam",
    "indie_flower": "fontpkg_indie_flower",
    "shadows_into_light": "fontpkg_shadows_into_light",
    "zeyada": "fontpkg_zeyada",
    "dancing_script": "fontpkg_dancing_script",
    "satisfy": "fontpkg_satisfy",
    "delius": "fontpkg_delius",
}

#: Kalam (three weights, upright print handwriting) is the most legible unseen style for test;
#: Indie Flower (another print hand) is held out for valid; train sees the other six fonts.
DEFAULT_FONTS: dict[str, tuple[str, ...]] = {
    "train": ("caveat", "shadows_into_light", "delius", "dancing_script", "satisfy", "zeyada"),
    "valid": ("indie_flower",),
    "test": ("kalam",),
}

DEFAULTS: dict[str, object] = {
    "seed": 0,
    "n_train": 4000,
    "n_valid": 400,
    "n_test": 400,
    "fonts": {k: list(v) for k, v in DEFAULT_FONTS.items()},
    "min_words": 2,
    "max_words": 5,
    "max_chars": 32,
    "vocab_size": 5000,
    "x_height": [15, 22],
}

#: keys accepted by ``ensure_synthetic``/``generate_synthetic`` that do not change the output.
RUN_KEYS = ("workers", "progress")

_WORD_RE = re.compile(r"[a-z]+('[a-z]+)?")


class SyntheticDataError(RuntimeError):
    """The synthetic dataset cannot be generated (missing font package, bad parameters)."""


# --------------------------------------------------------------------------------------------
# parameters


def _plain(value):
    """``value`` with mappings turned into dicts and non-string sequences into lists (recursively).

    Accepts OmegaConf containers without importing OmegaConf.
    """
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


def params_key(params) -> str:
    """Short hash of the complete generation parameters (``RUN_KEYS`` left out): the synthetic
    dataset's folder name ends with it, so datasets generated with other parameters (another
    seed, more lines) live side by side instead of replacing each other."""
    import hashlib

    full = synthetic_params(**_plain(params))
    blob = json.dumps(_stamp(full), sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def synthetic_params(**params) -> dict:
    """Complete, validated generation parameters: ``DEFAULTS`` updated with ``params``.

    Keys in ``RUN_KEYS`` are dropped (they do not change the output). Raises
    ``SyntheticDataError`` for unknown keys, bad counts, unknown fonts or fonts shared by splits.
    """
    params = {k: _plain(v) for k, v in params.items() if k not in RUN_KEYS}
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise SyntheticDataError(
            f"unknown synthetic dataset parameter(s) {unknown}; known: {sorted(DEFAULTS)}"
        )
    out = _plain(DEFAULTS) | params
    for key in ("seed", "n_train", "n_valid", "n_test", "min_words", "max_words", "max_chars",
                "vocab_size"):
        out[key] = int(out[key])
        if out[key] < 0:
            raise SyntheticDataError(f"synthetic.{key} must be >= 0, got {out[key]}")
    if not 1 <= out["min_words"] <= out["max_words"]:
        raise SyntheticDataError(
            f"need 1 <= min_words <= max_words, got {out['min_words']}, {out['max_words']}"
        )
    if out["max_chars"] < 8 or out["vocab_size"] < 50:
        raise SyntheticDataError("max_chars must be >= 8 and vocab_size >= 50")
    lo, hi = (float(v) for v in out["x_height"])
    if not 6 <= lo <= hi <= 60:
        raise SyntheticDataError(f"x_height must be [lo, hi] px with 6 <= lo <= hi <= 60, got {out['x_height']}")
    out["x_height"] = [lo, hi]
    fonts = out["fonts"]
    if not isinstance(fonts, dict) or set(fonts) != set(STAGES):
        raise SyntheticDataError(f"synthetic.fonts must map each of {STAGES} to a list of fonts")
    fonts = {st: [str(f) for f in fonts[st]] for st in STAGES}
    for st, names in fonts.items():
        if not names and out[f"n_{st}"] > 0:
            raise SyntheticDataError(f"synthetic.fonts.{st} is empty but n_{st} > 0")
        bad = [f for f in names if f not in FONT_PACKAGES]
        if bad:
            raise SyntheticDataError(
                f"unknown font(s) {bad} in synthetic.fonts.{st}; known: {sorted(FONT_PACKAGES)}"
            )
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared = sorted(set(fonts[a]) & set(fonts[b]))
        if shared:
            raise SyntheticDataError(
                f"font(s) {shared} are in both synthetic.fonts.{a} and .{b}; splits are by font"
            )
    out["fonts"] = fonts
    return out


# --------------------------------------------------------------------------------------------
# fonts


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
def _font(path: str, size: int, weight: int = 0) -> ImageFont.FreeTypeFont:
    """A Pillow font with the basic layout (no shaping, so one glyph per character)."""
    font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    if weight:
        font.set_variation_by_axes([weight])
    return font


@lru_cache(maxsize=64)
def font_metrics(path: str) -> FontMetrics:
    """Measure x-height, ascender and descender of a font file from the ink of 'x', 'd', 'p'."""
    ref = 200
    font = _font(path, ref)
    try:
        variable = any(b"eight" in (a.get("name") or b"") for a in font.get_variation_axes())
    except OSError:
        variable = False
    _, xt, _, _ = font.getbbox("x", anchor="ls")
    _, dt, _, _ = font.getbbox("d", anchor="ls")
    _, _, _, pb = font.getbbox("p", anchor="ls")
    return FontMetrics(-xt / ref, -dt / ref, pb / ref, variable)


# --------------------------------------------------------------------------------------------
# text


@lru_cache(maxsize=8)
def load_words(vocab_size: int) -> tuple[tuple[str, ...], np.ndarray]:
    """The ``vocab_size`` most frequent plain English words and their sampling probabilities.

    Words are lowercase ASCII letters with at most one inner apostrophe (``don't``); the
    probability of the word of rank ``r`` (0-based) is proportional to ``1 / sqrt(r + 1)``, which
    keeps frequent short words common without letting them dominate.
    """
    import wordfreq

    words: list[str] = []
    for w in wordfreq.top_n_list("en", vocab_size * 2):
        if _WORD_RE.fullmatch(w) and (len(w) > 1 or w in ("a", "i")):
            words.append(w)
            if len(words) == vocab_size:
                break
    weights = 1.0 / np.sqrt(np.arange(len(words)) + 1.0)
    return tuple(words), weights / weights.sum()


def _number(rng: np.random.Generator) -> str:
    digits = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.15, 0.2]))
    first = str(rng.integers(1, 10)) if digits > 1 else str(rng.integers(0, 10))
    return first + "".join(str(d) for d in rng.integers(0, 10, digits - 1))


def _token(rng: np.random.Generator, words: Sequence[str], probs: np.ndarray) -> str:
    if rng.random() < 0.07:
        return _number(rng)
    word = words[int(rng.choice(len(words), p=probs))]
    if word == "i" or word.startswith("i'"):
        return "I" + word[1:]
    if rng.random() < 0.06:
        return word.capitalize()
    return word


def sample_text(
    rng: np.random.Generator,
    words: Sequence[str],
    probs: np.ndarray,
    min_words: int = 2,
    max_words: int = 5,
    max_chars: int = 32,
) -> str:
    """One line of ``min_words..max_words`` tokens, at most ``max_chars`` characters.

    Tokens are words (7% numbers); the first word is capitalized with probability 0.4; commas,
    hyphens (joining or spaced), a final full stop or question mark are added sparingly.
    """
    for _ in range(100):
        n = int(rng.integers(min_words, max_words + 1))
        tokens = [_token(rng, words, probs) for _ in range(n)]
        if rng.random() < 0.4:
            tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
        text = tokens[0]
        for tok in tokens[1:]:
            u = rng.random()
            if u < 0.08:
                text += ", " + tok
            elif u < 0.11:
                text += " - " + tok
            elif u < 0.14:
                text += "-" + tok
            else:
                text += " " + tok
        u = rng.random()
        if u < 0.15:
            text += "."
        elif u < 0.20:
            text += "?"
        if len(text) <= max_chars:
            return text
        # too long: keep the longest prefix of whole words that fits
        cut = text[: max_chars + 1].rsplit(" ", 1)[0].rstrip(" ,-")
        if len(cut.split()) >= min_words and len(cut) <= max_chars:
            return cut
    raise SyntheticDataError(f"cannot sample a line of {min_words}+ words in {max_chars} chars")


# --------------------------------------------------------------------------------------------
# rendering


@dataclass
class Rendered:
    """A rendered line: grayscale image and one ``[x0, x1)`` column range per character."""

    image: np.ndarray  # (H, W) uint8, dark ink on light paper
    extents: list[list[int]]
    font_file: str
    size: int


def _draw_glyphs(
    text: str, font: ImageFont.FreeTypeFont, origin: tuple[float, float], shape: tuple[int, int]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray] | None]]:
    """Draw ``text`` glyph by glyph at the pen positions of the whole string.

    Returns the coverage canvas (float32 in 0..1) and, per character, the canvas (x, y)
    coordinates of its pixels with coverage >= 0.35 (``None`` for characters without ink).
    """
    canvas = np.zeros(shape, np.float32)
    ox, baseline = origin
    inks: list[tuple[np.ndarray, np.ndarray] | None] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            inks.append(None)
            continue
        pen = ox + font.getlength(text[:i])
        ix = math.floor(pen)
        l, t, r, b = font.getbbox(ch, anchor="ls")
        w, h = r - l + 2, b - t + 2
        glyph_im = Image.new("L", (w, h), 0)
        ImageDraw.Draw(glyph_im).text((pen - ix - l, -t), ch, font=font, fill=255, anchor="ls")
        glyph = np.asarray(glyph_im, np.float32) / 255.0
        gx, gy = ix + l, int(baseline) + t
        _paste_max(canvas, glyph, gx, gy)
        ys, xs = np.nonzero(glyph >= 0.35)
        inks.append((xs + gx, ys + gy) if xs.size else None)
    return canvas, inks


def _paste_max(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """``canvas[y:, x:] = max(canvas, patch)`` over the overlap (patch may stick out)."""
    H, W = canvas.shape
    h, w = patch.shape
    cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    region = canvas[cy0:cy1, cx0:cx1]
    np.maximum(region, patch[cy0 - y:cy1 - y, cx0 - x:cx1 - x], out=region)


def _stroke_width(cov: np.ndarray) -> float:
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


def _restroke(cov: np.ndarray, delta: float) -> np.ndarray:
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


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise in -1..1 of ``shape``: a small random grid upscaled bicubically."""
    grid = rng.uniform(-1.0, 1.0, cells).astype(np.float32)
    field = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(field, -1.0, 1.0)


def _displacement(rng: np.random.Generator, width: int, wobble: float, tilt: float) -> np.ndarray:
    """Vertical shift per column: two sines (amplitudes summing to ``wobble``) plus a tilt."""
    xs = np.arange(width, dtype=np.float64)
    phase = rng.uniform(0, 2 * np.pi, 2)
    wave = rng.uniform(120.0, 500.0, 2)
    amp = rng.dirichlet([1.0, 1.0]) * wobble
    disp = (amp[0] * np.sin(2 * np.pi * xs / wave[0] + phase[0])
            + amp[1] * np.sin(2 * np.pi * xs / wave[1] + phase[1])
            + tilt * (xs - width / 2.0))
    return disp.astype(np.float32)


def _warp(cov: np.ndarray, shear: float, y_ref: float, disp: np.ndarray) -> np.ndarray:
    """Slant then shift columns vertically: source (u, v) lands at
    ``(u + shear * (y_ref - v), v + disp[x])``."""
    h, w = cov.shape
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
    map_y = grid_y - disp[None, :]
    map_x = grid_x - shear * (y_ref - map_y)
    return cv2.remap(cov, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)


def _crop_box(
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
    font = _font(font_file, size, weight)

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
    cov, inks = _draw_glyphs(text, font, (hmargin, baseline), (height, width))

    y_ref = baseline - xh_px / 2.0  # the slant pivots on the middle of the x-height
    disp = _displacement(rng, width, wobble, tilt)
    cov = _warp(cov, shear, y_ref, disp)

    # stroke width: move edges by delta px, keeping the stroke between ~0.10 and 0.26 x-height
    stroke = _stroke_width(cov)
    delta = float(rng.uniform(-0.4, 0.8))
    delta = min(delta, max(0.0, (0.26 * xh_px - stroke) / 2.0))
    delta = max(delta, min(0.0, max((0.10 * xh_px - stroke) / 2.0, 1.2 - stroke / 2.0)))
    if abs(delta) > 0.15:
        cov = _restroke(cov, delta)
    else:
        delta = 0.0

    band = (baseline - asc, baseline + desc)
    x0, y0, x1, y1 = _crop_box(cov, band, disp, rng.integers(2, 9, 4))
    if x1 <= x0:
        raise SyntheticDataError(f"no ink rendered for {text!r} with {font_file}")
    cov = cov[y0:y1, x0:x1]
    # per character [x0, x1) in the cropped image, both ends non-decreasing, clipped to the width
    extents = _monotone(_glyph_ranges(text, inks, shear, y_ref, delta, x0, x1 - x0), x1 - x0)
    image = _paint(cov, rng)
    return Rendered(image, extents, font_file, size)


def _glyph_ranges(
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
    nearest columns; the range is widened (or narrowed) by the stroke change ``delta``. Characters without ink (spaces) get the gap between the ink of
    the nearest characters on either side (a zero-width range at the middle when those overlap).
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


def _monotone(ranges: list[list[int]], width: int) -> list[list[int]]:
    """Clip to ``[0, width]`` and make starts and ends non-decreasing (running maxima)."""
    out: list[list[int]] = []
    lo_run = hi_run = 0
    for a, b in ranges:
        lo_run = max(lo_run, min(max(int(a), 0), width))
        hi_run = max(hi_run, lo_run, min(max(int(b), 0), width))
        out.append([lo_run, hi_run])
    return out


def _paint(cov: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0..1) to a uint8 page: paper grey + gradient + texture, ink, noise, blur."""
    h, w = cov.shape
    paper = float(rng.uniform(195.0, 250.0))
    ink = float(rng.uniform(5.0, min(100.0, paper - 110.0)))
    gradient = float(rng.uniform(-20.0, 20.0)) * (np.arange(w, dtype=np.float32) / max(w - 1, 1) - 0.5)
    texture = float(rng.uniform(0.0, 8.0)) * _smooth_field(rng, (h, w), (3, max(2, w // 40)))
    paper_img = np.clip(paper + gradient[None, :] + texture, 120.0, 255.0)
    pressure = 1.0 + float(rng.uniform(0.0, 0.25)) * _smooth_field(rng, (h, w), (2, max(2, w // 60)))
    ink_img = np.clip(ink * pressure, 0.0, 255.0)
    img = paper_img * (1.0 - cov) + ink_img * cov
    sigma_blur = float(rng.uniform(0.0, 0.9)) if rng.random() < 0.6 else 0.0
    if sigma_blur > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma_blur)
    noise = float(rng.uniform(0.0, 7.0))
    img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# generation


@dataclass(frozen=True)
class _Job:
    out_dir: str
    stage: str
    index: int
    params: dict


def _sample_id(stage: str, index: int) -> str:
    return f"{stage}_{index:06d}"


def _line_rng(seed: int, stage: str, index: int) -> np.random.Generator:
    """The generator of one line: a function of (seed, stage, index) only."""
    return np.random.default_rng([seed, STAGES.index(stage), index])


def make_line(params: dict, stage: str, index: int) -> tuple[str, str, Rendered]:
    """Text, font family and rendering of line ``index`` of ``stage`` (deterministic)."""
    rng = _line_rng(params["seed"], stage, index)
    words, probs = load_words(params["vocab_size"])
    text = sample_text(rng, words, probs, params["min_words"], params["max_words"],
                       params["max_chars"])
    families = params["fonts"][stage]
    family = families[int(rng.integers(len(families)))]
    files = font_files(family)
    font_file = files[int(rng.integers(len(files)))]
    rendered = render_line(text, font_file, rng, tuple(params["x_height"]))
    return text, family, rendered


def _run_job(job: _Job) -> dict:
    text, family, rendered = make_line(job.params, job.stage, job.index)
    sid = _sample_id(job.stage, job.index)
    rel = f"{LINES_DIR}/{sid}.png"
    ok, buf = cv2.imencode(".png", rendered.image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover
        raise SyntheticDataError(f"cannot encode {rel}")
    Path(job.out_dir, rel).write_bytes(buf.tobytes())
    return {"sample_id": sid, "path": rel, "stage": job.stage, "text": text, "font": family,
            "extents": rendered.extents}


def _jobs(out_dir: Path, params: dict) -> list[_Job]:
    return [_Job(str(out_dir), st, i, params) for st in STAGES for i in range(params[f"n_{st}"])]


def _init_worker() -> None:
    """One OpenCV thread per worker process: the processes already share out the cores."""
    cv2.setNumThreads(1)


def _results(jobs: list[_Job], workers: int) -> Iterator[dict]:
    if workers <= 1 or len(jobs) < 4 * workers:
        yield from map(_run_job, jobs)
        return
    ctx = mp.get_context("spawn")  # safe whatever the parent holds (threads, CUDA)
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap(_run_job, jobs, chunksize=16)


def generate_synthetic(out_dir: str | Path, *, workers: int = 2, progress: bool = True,
                       **params) -> Path:
    """Generate the dataset into ``out_dir`` (created; must not hold files) and return it.

    Writes ``lines/*.png``, ``marking.csv``, ``char_extents.json`` and, last,
    ``synthetic.json`` (format version + parameters). ``workers`` processes render lines (the
    output is the same for any number); ``progress`` shows a tqdm bar. Logs a one-line summary.
    """
    out_dir = Path(out_dir)
    summary = _generate(out_dir, synthetic_params(**params), workers, progress)
    log.info("%s -> %s", summary, out_dir)
    return out_dir


def _generate(out_dir: Path, params: dict, workers: int, progress: bool) -> str:
    """Write the dataset for complete ``params`` into ``out_dir``; return a summary line."""
    from tqdm.auto import tqdm

    for stage in STAGES:  # fail early, in this process, on a missing font package
        for family in params["fonts"][stage]:
            for f in font_files(family):
                font_metrics(str(f))
    if out_dir.exists() and any(out_dir.iterdir()):
        raise SyntheticDataError(f"{out_dir} is not empty; generate into a new folder")
    (out_dir / LINES_DIR).mkdir(parents=True, exist_ok=True)
    jobs = _jobs(out_dir, params)
    start = time.perf_counter()
    rows: list[dict] = []
    bar = tqdm(total=len(jobs), desc="synthetic dataset", unit="line", disable=not progress)
    with bar:
        for row in _results(jobs, workers):
            rows.append(row)
            bar.update(1)
    extents = {r["sample_id"]: r.pop("extents") for r in rows}
    write_marking(out_dir, rows, extra_columns=("font",))
    atomic_write_text(out_dir / EXTENTS_FILE,
                      json.dumps(extents, separators=(",", ":")) + "\n")
    atomic_write_json(out_dir / PARAMS_FILE, _stamp(params))
    counts = ", ".join(f"{st} {params[f'n_{st}']}" for st in STAGES)
    fonts = "; ".join(f"{st}: {', '.join(params['fonts'][st])}" for st in STAGES)
    return (f"synthetic dataset generated: {len(rows)} lines ({counts}; fonts {fonts}) "
            f"in {time.perf_counter() - start:.1f} s with {max(1, workers)} worker(s)")


def _stamp(params: dict) -> dict:
    return {"format_version": FORMAT_VERSION, "params": params}


def is_complete(root: str | Path, params: dict) -> bool:
    """True when ``root`` holds a finished dataset generated with exactly ``params``."""
    root = Path(root)
    try:
        stamp = json.loads((root / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (stamp == _stamp(params) and (root / "marking.csv").is_file()
            and (root / EXTENTS_FILE).is_file())


def ensure_synthetic(root: str | Path, **params) -> Path:
    """Return ``root`` holding the synthetic dataset for ``params``, generating it if needed.

    Reuses ``root`` when its ``synthetic.json`` matches the format version and parameters.
    Otherwise generates into a hidden sibling folder and renames it to ``root`` (an older or
    incomplete ``root`` is removed), so an interrupted run never leaves a folder that is trusted
    later. Concurrent callers are serialized by a lock file next to ``root``.
    """
    root = Path(root).expanduser().absolute()
    run = {k: params.pop(k) for k in RUN_KEYS if k in params}
    full = synthetic_params(**params)
    if is_complete(root, full):
        log.debug("synthetic dataset up to date in %s", root)
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(root.parent / f".{root.name}.lock"):
        if is_complete(root, full):
            return root
        for stale in root.parent.glob(f".{root.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            summary = _generate(tmp, full, int(run.get("workers", 2)),
                                bool(run.get("progress", True)))
            if root.exists():
                old = root.parent / f".{root.name}.tmp-old-{uuid.uuid4().hex[:8]}"
                log.info("replacing %s (different parameters or incomplete)", root)
                os.replace(root, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, root)
            log.info("%s -> %s", summary, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return root
