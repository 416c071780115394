"""HandWritten Blots: strike-through scribbles drawn as dark ink over a line image.

Each blot is a smooth pen scribble zig-zagging up and down across a random box, as a person
crossing a word out would draw it:

1. a box of ``height × width`` pixels is placed at a random position; the strokes are slanted by
   ``incline`` pixels (the top of every stroke is shifted sideways by that amount relative to its
   bottom, the side is random), so the ink region is ``height × (width + incline)``;
2. the pen path is a trochoid-like curve: it oscillates between the top and bottom of the box
   (each up/down stroke with its own amplitude, a slightly drifting centre line and uneven pen
   speed) while moving across; the number of strokes grows with ``intensity`` (how densely the
   box width is filled: 0.5 = loose hatching, 0.9 = dense scribble) and falls with the pen
   thickness; the turns are round and, with a random "loopiness", become small loops as in fast
   handwriting; half of the time the pen comes back part of the way (cross-hatched scribble);
3. the curve (10 points per stroke) is rasterised with ``cv2.polylines(..., LINE_AA)`` at the
   sampled thickness into a small mask the size of the box clipped to the image, and the image
   is darkened there towards an ink grey level with opacity ``1 - transparency``.

``style="paper"`` draws the original StackMix-OCR geometry instead: Bézier hatch strokes. For
each of ``curves_range`` (3) curves per blot, control points are laid out in ``20·intensity``
steps down the box (intensity 0.75 in the paper: 15 steps): the first tenth anywhere in the box,
then alternating clusters of 10-80 points near the left edge (1-20 % of the width) and the rest
of 80 near the right edge (80-99 %), each cluster inside its step's band (the left band reaching
``incline`` pixels lower, which slants the strokes; the box is ``height × width``); the single
Bézier curve through all of
them is evaluated at 99 points and every segment is drawn with its own thickness from
``thickness_range``. The curves are darkened towards ``ink`` with the blot's opacity.

Guarantees (tested): pixels only get darker, only pixels inside the sampled boxes (clipped to the
image) change, the shape and dtype are kept, and ``p=0`` is the identity. Boxes may be larger than
the image or overhang it; they are clipped, never wrapped around.

The sampled parameters are returned by :meth:`HandwrittenBlots.get_params_dependent_on_data` and
stay available after a call through ``transform.get_applied_params()`` (albumentations' own
``self.params``):

``params["boxes"]``  list of ``(x0, y0, x1, y1)`` image-clipped boxes (half-open: rows
                     ``y0:y1``, columns ``x0:x1``), one per blot actually drawn;
``params["blots"]``  list of dicts with ``box``, ``points`` (the smoothed curve, float32 (N, 2)
                     x/y in image coordinates, may lie partly outside the image), ``thickness``,
                     ``opacity`` (= 1 - transparency) and ``ink`` (grey level); paper style: also
                     ``curves``, a list of ``{"points", "thicknesses"}`` (one thickness per
                     segment), and ``points`` is their concatenation.

The same dicts are also kept in ``transform.last_blots`` (empty when the transform was skipped).
"""
from __future__ import annotations

import functools
from typing import Annotated, Any

import cv2
import numpy as np
from albumentations.core.pydantic import check_range_bounds, nondecreasing
from albumentations.core.transforms_interface import BaseTransformInitSchema, ImageOnlyTransform
from pydantic import AfterValidator

__all__ = ["BLOT_STYLES", "HandwrittenBlots", "bezier_curve", "draw_blot", "hatch_control_points",
           "scribble_points"]

BLOT_STYLES = ("scribble", "paper")

_SHIFT = 4  # cv2 sub-pixel bits for polylines
_SCALE = 1 << _SHIFT

PositiveIntRange = Annotated[
    tuple[int, int], AfterValidator(check_range_bounds(1, None)), AfterValidator(nondecreasing)
]
NonNegativeIntRange = Annotated[
    tuple[int, int], AfterValidator(check_range_bounds(0, None)), AfterValidator(nondecreasing)
]
UnitFloatRange = Annotated[
    tuple[float, float], AfterValidator(check_range_bounds(0, 1)), AfterValidator(nondecreasing)
]
GreyRange = Annotated[
    tuple[int, int], AfterValidator(check_range_bounds(0, 255)), AfterValidator(nondecreasing)
]


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


class HandwrittenBlots(ImageOnlyTransform):
    """Strike-through scribbles ("HandWritten Blots") as in the StackMix paper.

    Args:
        height_range: box height in pixels (default 50-100).
        width_range: box width in pixels before the slant (default 20-100).
        incline_range: sideways slant of the strokes in pixels (default 10-50); its side is random.
        intensity_range: scribble density, the fraction of the box width filled by dense
            zig-zags (default 0.5-0.9).
        transparency_range: how much of the page shows through the ink (default 0.05-0.4);
            the ink opacity is ``1 - transparency``.
        thickness_range: pen thickness in pixels (default 1-4).
        count_range: number of blots per image, uniform over the inclusive range (default 1-10).
        ink_range: grey level of the ink (default 0-40).
        style: ``"scribble"`` (default: the zig-zag pen scribble above) or ``"paper"`` (the
            original project's Bézier hatch strokes; ``intensity`` sets their number of steps,
            0.75 in the paper; ``thickness_range`` is drawn per segment).
        curves_range: paper style: Bézier curves per blot (default 3-3).
        p: probability of applying the transform (default 0.5).

    All ranges are inclusive ``(low, high)`` pairs; integer ranges are sampled with
    ``py_random.randint``, float ranges with ``py_random.uniform``, curve jitter with
    ``random_generator``, so ``A.Compose([...], seed=N)`` is deterministic.
    """

    class InitSchema(BaseTransformInitSchema):
        height_range: PositiveIntRange
        width_range: PositiveIntRange
        incline_range: NonNegativeIntRange
        intensity_range: UnitFloatRange
        transparency_range: UnitFloatRange
        thickness_range: PositiveIntRange
        count_range: NonNegativeIntRange
        ink_range: GreyRange
        curves_range: PositiveIntRange
        style: str

    def __init__(
        self,
        height_range: tuple[int, int] = (50, 100),
        width_range: tuple[int, int] = (20, 100),
        incline_range: tuple[int, int] = (10, 50),
        intensity_range: tuple[float, float] = (0.5, 0.9),
        transparency_range: tuple[float, float] = (0.05, 0.4),
        thickness_range: tuple[int, int] = (1, 4),
        count_range: tuple[int, int] = (1, 10),
        ink_range: tuple[int, int] = (0, 40),
        style: str = "scribble",
        curves_range: tuple[int, int] = (3, 3),
        p: float = 0.5,
    ):
        if style not in BLOT_STYLES:
            raise ValueError(f"aug.blots.style must be one of {', '.join(BLOT_STYLES)}, got {style!r}")
        super().__init__(p=p)
        self.style = style
        self.curves_range = tuple(curves_range)
        self.height_range = tuple(height_range)
        self.width_range = tuple(width_range)
        self.incline_range = tuple(incline_range)
        self.intensity_range = tuple(intensity_range)
        self.transparency_range = tuple(transparency_range)
        self.thickness_range = tuple(thickness_range)
        self.count_range = tuple(count_range)
        self.ink_range = tuple(ink_range)
        self.last_blots: list[dict[str, Any]] = []

    RANGE_KEYS = (
        "height_range",
        "width_range",
        "incline_range",
        "intensity_range",
        "transparency_range",
        "thickness_range",
        "count_range",
        "ink_range",
        "curves_range",
    )
    OPTION_KEYS = ("style",)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return self.RANGE_KEYS + self.OPTION_KEYS

    def _sample_blot(self, img_h: int, img_w: int) -> dict[str, Any] | None:
        r = self.py_random
        h = r.randint(*self.height_range)
        w = r.randint(*self.width_range)
        lean = r.randint(*self.incline_range)
        incline = lean if r.random() < 0.5 else -lean
        intensity = r.uniform(*self.intensity_range)
        opacity = 1.0 - r.uniform(*self.transparency_range)
        thickness = r.randint(*self.thickness_range)
        ink = r.randint(*self.ink_range)
        bw = w + lean if self.style == "scribble" else w  # paper: the slant stays inside the box
        # Top-left corner: anywhere the box fits; if it is larger than the image, anywhere it
        # still covers the image. Then clip (never wrap around).
        bx = r.randint(min(0, img_w - bw), max(0, img_w - bw))
        by = r.randint(min(0, img_h - h), max(0, img_h - h))
        box = (max(bx, 0), max(by, 0), min(bx + bw, img_w), min(by + h, img_h))
        if box[2] <= box[0] or box[3] <= box[1]:
            return None
        blot = {"box": box, "thickness": thickness, "opacity": opacity, "ink": ink}
        offset = np.array([bx, by], np.float32)
        if self.style == "paper":
            curves = []
            for _ in range(r.randint(*self.curves_range)):
                ctrl = hatch_control_points(self.random_generator, h, w, incline, intensity)
                pts = bezier_curve(ctrl).astype(np.float32) + offset
                lo, hi = self.thickness_range
                th = self.random_generator.integers(lo, hi + 1, len(pts) - 1)
                curves.append({"points": pts, "thicknesses": th})
            blot["curves"] = curves
            blot["points"] = np.concatenate([c["points"] for c in curves])
        else:
            pts = scribble_points(self.random_generator, h, w, incline, intensity, thickness)
            blot["points"] = pts + offset
        return blot

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        img_h, img_w = params["shape"][:2]
        count = self.py_random.randint(*self.count_range)
        blots = []
        for _ in range(count):
            blot = self._sample_blot(img_h, img_w)
            if blot is not None:
                blots.append(blot)
        return {"blots": blots, "boxes": [b["box"] for b in blots]}

    def apply(self, img: np.ndarray, blots: list[dict[str, Any]] | None = None, **params: Any) -> np.ndarray:
        self.last_blots = list(blots or [])
        if not blots:
            return img
        if img.dtype != np.uint8:
            raise TypeError(f"HandwrittenBlots expects uint8 images, got {img.dtype}")
        out = img.copy()
        for blot in blots:
            draw_blot(out, blot)
        return out

    def __call__(self, *args: Any, force_apply: bool = False, **kwargs: Any) -> Any:
        self.last_blots = []
        return super().__call__(*args, force_apply=force_apply, **kwargs)
