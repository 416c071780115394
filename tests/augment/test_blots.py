"""HandwrittenBlots: determinism, shapes, ink-only-inside-boxes, edge cases."""
from __future__ import annotations

import time

import albumentations as A
import cv2
import numpy as np
import pytest

from conftest import paper_blots
from stackmix.augment.blots import HandwrittenBlots


def line_image(shape=(128, 2048), seed=0) -> np.ndarray:
    """A page-grey line with a few dark text-like strokes (so 'darker only' is not trivial)."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    img = np.full((h, w), 235, np.uint8)
    img += rng.integers(0, 20, (h, w), dtype=np.uint8)
    for x in range(5, max(w - 20, 6), 40):
        pts = np.stack([x + np.cumsum(rng.uniform(1, 5, 6)), h / 2 + rng.uniform(-h / 4, h / 4, 6)], 1)
        cv2.polylines(img, [np.round(pts).astype(np.int32)], False, 30, 2, cv2.LINE_AA)
    if len(shape) == 3:
        img = np.repeat(img[..., None], shape[2], axis=2)
    return img


def run(t: HandwrittenBlots, img: np.ndarray, seed: int):
    out = A.Compose([t], seed=seed)(image=img)["image"]
    return out, t.get_applied_params().get("boxes", [])


def union_mask(shape, boxes) -> np.ndarray:
    m = np.zeros(shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= shape[1] and 0 <= y0 < y1 <= shape[0], (x0, y0, x1, y1, shape)
        m[y0:y1, x0:x1] = True
    return m


def changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a != b
    return d.any(axis=2) if d.ndim == 3 else d


def test_paper_settings_are_written_once_in_the_yaml():
    t = paper_blots()
    assert t.p == 0.5
    assert t.height_range == (50, 100) and t.width_range == (20, 100)
    assert t.incline_range == (10, 50) and t.intensity_range == (0.5, 0.9)
    assert t.transparency_range == (0.05, 0.4) and t.thickness_range == (1, 4)
    assert t.count_range == (1, 10) and t.count_width == 2048


@pytest.mark.parametrize("bad", [{"height_range": (10, 5)}, {"transparency_range": (0.1, 1.5)}, {"thickness_range": (0, 2)}])
def test_invalid_ranges_rejected(bad):
    with pytest.raises(ValueError):
        paper_blots(**bad)


def test_deterministic_under_seed():
    imgs = [line_image(seed=i) for i in range(4)]
    a = A.Compose([paper_blots(p=0.5)], seed=7)
    b = A.Compose([paper_blots(p=0.5)], seed=7)
    c = A.Compose([paper_blots(p=0.5)], seed=8)
    outs_a = [a(image=i)["image"] for i in imgs]
    outs_b = [b(image=i)["image"] for i in imgs]
    outs_c = [c(image=i)["image"] for i in imgs]
    assert all(np.array_equal(x, y) for x, y in zip(outs_a, outs_b))
    assert not all(np.array_equal(x, y) for x, y in zip(outs_a, outs_c))


@pytest.mark.parametrize("shape", [(128, 2048), (128, 2048, 1), (128, 2048, 3), (64, 300), (5, 7), (1, 1), (1, 1, 3), (5, 7, 1)])
def test_shape_dtype_darker_inside_boxes(shape):
    """(With the count per image: a 7-px line would get no blot per 2048 px.)"""
    img = line_image(shape)
    for seed in range(5):
        t = paper_blots(count_width=None, p=1)
        out, boxes = run(t, img, seed)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert len(boxes) >= 1  # count_range starts at 1 and every box is clipped, not dropped
        assert (out <= img).all(), "blots must only add ink"
        changed = changed_mask(out, img)
        assert not (changed & ~union_mask(shape, boxes)).any(), "ink outside the sampled boxes"
    assert img.shape == line_image(shape).shape and np.array_equal(img, line_image(shape)), "input modified"


def test_boxes_cover_a_small_part_and_strokes_are_visible():
    img = np.full((128, 2048), 255, np.uint8)
    for seed in range(10):
        t = paper_blots(count_width=None, p=1)
        out, boxes = run(t, img, seed)
        union = union_mask(img.shape, boxes)
        assert union.mean() < 0.6  # the subset test above is not vacuous
        changed = changed_mask(out, img)
        assert changed.sum() > 50, "p=1 must draw visible strokes"
        assert out.min() < 160, "strokes must be dark ink"
        # every blot leaves ink in its own box
        for x0, y0, x1, y1 in boxes:
            assert changed[y0:y1, x0:x1].any()


def test_strokes_are_not_straight_and_cross_the_box():
    """A scribble zig-zags: inside each box the ink spans most of the height and many columns."""
    img = np.full((300, 400), 255, np.uint8)
    t = paper_blots(count_width=None, p=1, count_range=(1, 1), height_range=(80, 80), width_range=(60, 60), incline_range=(10, 10))
    out, (box,) = run(t, img, 3)
    x0, y0, x1, y1 = box
    ink = out[y0:y1, x0:x1] < 200
    rows = np.flatnonzero(ink.any(axis=1))
    assert rows.max() - rows.min() >= 0.7 * (y1 - y0)
    # a zig-zag crosses a horizontal line through the middle several times
    mid = ink[(y1 - y0) // 2]
    crossings = np.count_nonzero(np.diff(mid.astype(np.int8)) == 1)
    assert crossings >= 4


def test_boxes_larger_than_image_are_clipped_no_wraparound():
    img = line_image((40, 120))
    for seed in range(10):
        t = paper_blots(count_width=None, p=1, height_range=(200, 300), width_range=(300, 500), count_range=(2, 4))
        out, boxes = run(t, img, seed)
        assert all(b == (0, 0, 120, 40) for b in boxes)
        assert (out <= img).all()
    # a box overhanging the left/top edge draws only in its clipped part
    img = np.full((128, 512), 255, np.uint8)
    for seed in range(20):
        t = paper_blots(count_width=None, p=1, height_range=(100, 200), width_range=(100, 600), count_range=(1, 1))
        out, boxes = run(t, img, seed)
        assert not (changed_mask(out, img) & ~union_mask(img.shape, boxes)).any()


def test_p0_and_zero_count_are_identity():
    img = line_image((128, 2048, 3))
    for seed in range(5):
        out, boxes = run(paper_blots(p=0), img, seed)
        assert np.array_equal(out, img) and boxes == []
        out, boxes = run(paper_blots(count_width=None, p=1, count_range=(0, 0)), img, seed)
        assert np.array_equal(out, img) and boxes == []


def test_rgb_equals_gray_per_channel():
    gray = line_image((96, 500))
    rgb = np.repeat(gray[..., None], 3, axis=2)
    g, gb = run(paper_blots(count_width=None, p=1), gray, 11)
    c, cb = run(paper_blots(count_width=None, p=1), rgb, 11)
    assert gb == cb
    for k in range(3):
        assert np.array_equal(c[..., k], g)


def test_count_width_makes_the_count_proportional_to_the_line_width():
    """count_width: count_range is per that many px, so a short line gets fewer blots (the mean
    exact, the rounding random); null keeps the count per image whatever the width."""
    def counts(width, **kw):
        t = paper_blots(p=1, count_range=(4, 4), **kw)
        return [len(run(t, np.full((128, width), 255, np.uint8), seed)[1]) for seed in range(200)]

    assert set(counts(2048, count_width=2048)) == {4}
    assert set(counts(512, count_width=2048)) == {1}
    short = counts(768, count_width=2048)  # 1.5 blots on average: one or two
    assert set(short) == {1, 2} and 1.35 < np.mean(short) < 1.65
    assert set(counts(512, count_width=None)) == {4}


def test_count_width_is_scaled_with_the_line_height():
    from stackmix.augment import scale_blots_to_height

    scaled = scale_blots_to_height({"count_width": 2048, "height_range": [50, 100]}, 32)
    assert scaled["count_width"] == 512 and scaled["height_range"] == [12, 25]
    assert scale_blots_to_height({"count_width": None}, 32)["count_width"] is None


def test_last_blots_debug_attribute():
    t = paper_blots(count_width=None, p=1, count_range=(3, 3))
    run(t, line_image((128, 512)), 0)
    assert len(t.last_blots) == 3
    assert {"box", "points", "thickness", "opacity", "ink"} <= set(t.last_blots[0])
    assert 1 - 0.4 <= t.last_blots[0]["opacity"] <= 1 - 0.05


def test_fast_enough():
    """Loose guard against a per-pixel implementation (the original took ~100 ms per blot)."""
    img = line_image()
    t = A.Compose([paper_blots(count_width=None, p=1)], seed=0)
    start = time.process_time()
    for _ in range(50):
        t(image=img)
    assert (time.process_time() - start) / 50 < 0.03


# ----------------------------------------------------------------------------- paper style
def test_hatch_control_points_alternate_left_right_stepping_down():
    from stackmix.augment.blots import hatch_control_points

    rng = np.random.default_rng(0)
    h, w = 100, 80
    pts = hatch_control_points(rng, h, w, incline=0, intensity=0.75)
    # 15 steps: the first (15 // 10 = 1) a single free point, then 14 clusters of 10-80 points
    free, rest = pts[:1], pts[1:]
    assert 0 <= free[0, 0] <= w and 0 <= free[0, 1] <= h
    left = rest[:, 0] <= 0.20 * w + 1e-9
    right = rest[:, 0] >= 0.80 * w - 1e-9
    assert np.all(left | right)
    runs = np.flatnonzero(np.diff(left.astype(int)) != 0)
    assert len(runs) == 13  # 14 clusters, alternating sides
    # each cluster lies in its own band, one band lower than the last
    bounds = np.split(rest, runs + 1)
    tops = [c[:, 1].min() for c in bounds]
    assert all(b >= a - 1e-9 for a, b in zip(tops, tops[1:]))
    assert bounds[0][:, 1].min() >= 100 / 15 - 1e-9 and bounds[-1][:, 1].max() <= h
    # a left cluster holds 10-79 points, a right one the rest of 80 for its own draw (1-70)
    for c in bounds:
        on_left = c[0, 0] <= 0.20 * w
        assert (10 <= len(c) <= 79) if on_left else (1 <= len(c) <= 70)


def test_paper_style_three_bezier_curves_per_blot_thickness_per_segment():
    t = paper_blots(style="paper", count_width=None, p=1.0, count_range=(4, 4), intensity_range=(0.75, 0.75))
    img = line_image((128, 1024))
    out, boxes = run(t, img, seed=3)
    blots = t.get_applied_params()["blots"]
    assert len(blots) == 4
    for b in blots:
        assert len(b["curves"]) == 3
        for c in b["curves"]:
            assert c["points"].shape == (99, 2) and len(c["thicknesses"]) == 98
            assert set(np.unique(c["thicknesses"])) > {1}  # redrawn per segment
            assert set(np.unique(c["thicknesses"])) <= {1, 2, 3, 4}
    # only darker, only inside the boxes
    assert np.all(out <= img)
    changed = out != img
    assert changed.any() and not (changed & ~union_mask(img.shape, boxes)).any()


def test_paper_style_darkens_towards_ink_with_opacity():
    t = paper_blots(style="paper", count_width=None, p=1.0, count_range=(1, 1), transparency_range=(0.0, 0.0),
                         ink_range=(0, 0), height_range=(100, 100), width_range=(80, 80))
    img = np.full((128, 512), 240, np.uint8)
    out, boxes = run(t, img, seed=0)
    assert out.min() == 0  # full opacity, black ink: the curve's core is black


def test_style_is_validated_and_configurable():
    from conftest import load_aug
    from stackmix.augment import build_blots

    with pytest.raises(ValueError, match="aug.blots.style must be one of scribble, paper"):
        paper_blots(style="hatch")
    t = build_blots({**load_aug("blots").blots, "style": "paper", "intensity_range": [0.75, 0.75]})
    assert t.style == "paper" and t.intensity_range == (0.75, 0.75)
    assert paper_blots().style == "scribble"


def test_bezier_curve_matches_the_bernstein_formula():
    from math import comb

    from stackmix.augment.blots import bezier_curve

    ctrl = np.random.default_rng(1).random((7, 2))
    t = np.linspace(0.01, 0.99, 99)
    ref = sum(comb(6, i) * t**i * (1 - t) ** (6 - i) * ctrl[i, 1] for i in range(7))
    np.testing.assert_allclose(bezier_curve(ctrl)[:, 1], ref, atol=1e-12)
    many = bezier_curve(np.random.default_rng(2).random((700, 2)))  # no overflow
    assert np.isfinite(many).all()
