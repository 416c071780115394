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

from typing import Annotated, Any

import numpy as np
from albumentations.core.pydantic import check_range_bounds, nondecreasing
from albumentations.core.transforms_interface import BaseTransformInitSchema, ImageOnlyTransform
from pydantic import AfterValidator, Field

from stackmix.augment.strokes import bezier_curve, draw_blot, hatch_control_points, scribble_points

__all__ = ["BLOT_LENGTH_KEYS", "BLOT_REFERENCE_HEIGHT", "BLOT_STYLES", "HandwrittenBlots",
           "bezier_curve", "draw_blot", "hatch_control_points", "scale_blots_to_height",
           "scribble_points"]

BLOT_STYLES = ("scribble", "paper")
BLOT_REFERENCE_HEIGHT = 128  # the paper's blot sizes are in pixels of 128-px-high lines
BLOT_LENGTH_KEYS = ("height_range", "width_range", "incline_range", "thickness_range")
BLOT_LENGTH_SCALARS = ("count_width",)

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


def scale_blots_to_height(blots: dict[str, Any] | None, image_h: int) -> dict[str, Any] | None:
    """A ``blots`` config block with its lengths (given for 128-px lines, as in the paper) scaled
    to lines ``image_h`` pixels high; the block itself when nothing changes."""
    if not blots or image_h == BLOT_REFERENCE_HEIGHT:
        return blots
    s = image_h / BLOT_REFERENCE_HEIGHT
    scaled = dict(blots)
    for key in BLOT_LENGTH_KEYS:
        if scaled.get(key) is not None:
            lo, hi = scaled[key]
            scaled[key] = [max(1, int(round(lo * s))), max(1, int(round(hi * s)))]
    for key in BLOT_LENGTH_SCALARS:
        if scaled.get(key) is not None:
            scaled[key] = max(1, int(round(scaled[key] * s)))
    return scaled


class HandwrittenBlots(ImageOnlyTransform):
    """Strike-through scribbles ("HandWritten Blots") as in the StackMix paper.

    Every argument is required (keyword-only): the paper's values are written once, in
    ``conf/aug/blots.yaml``, which builds this class from its ``_target_``.

    Args:
        height_range: box height in pixels.
        width_range: box width in pixels before the slant.
        incline_range: sideways slant of the strokes in pixels; its side is random.
        intensity_range: scribble density, the fraction of the box width filled by dense
            zig-zags.
        transparency_range: how much of the page shows through the ink; the ink opacity is
            ``1 - transparency``.
        thickness_range: pen thickness in pixels.
        count_range: number of blots per image, uniform over the inclusive range.
        count_width: ``count_range`` is for a line this many pixels wide; a line of width ``w``
            gets ``count · w / count_width`` blots (rounded at random, so the mean is exact), so
            blots strike the same share of the writing on short lines as on long ones. ``None``:
            ``count_range`` per image whatever its width (the original project).
        ink_range: grey level of the ink.
        style: ``"scribble"`` (the zig-zag pen scribble above) or ``"paper"`` (the original
            project's Bézier hatch strokes; ``intensity`` sets their number of steps, 0.75 in the
            paper; ``thickness_range`` is drawn per segment).
        curves_range: paper style: Bézier curves per blot.
        p: probability of applying the transform.

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
        count_width: Annotated[int, Field(ge=1)] | None
        ink_range: GreyRange
        curves_range: PositiveIntRange
        style: str

    def __init__(
        self,
        *,
        height_range: tuple[int, int],
        width_range: tuple[int, int],
        incline_range: tuple[int, int],
        intensity_range: tuple[float, float],
        transparency_range: tuple[float, float],
        thickness_range: tuple[int, int],
        count_range: tuple[int, int],
        count_width: int | None,
        ink_range: tuple[int, int],
        style: str,
        curves_range: tuple[int, int],
        p: float,
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
        self.count_width = count_width
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
    OPTION_KEYS = ("style", "count_width")

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
        if self.count_width is not None:
            expected = count * img_w / self.count_width
            count = int(expected) + (self.py_random.random() < expected - int(expected))
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
