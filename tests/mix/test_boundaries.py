import numpy as np
import pytest

from stackmix.ctc import emission_runs
from stackmix.data.image import resize_pad
from stackmix.mix.boundaries import (frame_boundaries, frames_to_pixels, input_scale_x,
                                     line_boundaries, refine_with_ink)
from stackmix.text import CTCCodec


def test_boundaries_from_hand_built_ctc_path():
    codec = CTCCodec("ab")
    # frames: _ a a _ _ b _ b b _ _ _   -> "abb" (a blank separates the two b's)
    path = [0, 1, 1, 0, 0, 2, 0, 2, 2, 0, 0, 0]
    assert codec.decode_path(path) == "abb"
    runs = emission_runs(path)
    assert runs.labels.tolist() == [1, 2, 2]
    assert runs.starts.tolist() == [1, 5, 7]
    assert runs.ends.tolist() == [3, 6, 9]
    b = frame_boundaries(runs, 12)
    # inner: midpoints of the gaps; outer: half the median pitch (3 frames) outside the centres
    np.testing.assert_allclose(b, [0.5, 4.0, 6.5, 9.5])
    # 12 frames over a 48 px wide input: 4 input px per frame; the input is the original at 0.5
    px = frames_to_pixels(b, 12, 48, 0.5, 200)
    np.testing.assert_allclose(px, [4.0, 32.0, 52.0, 76.0])


def test_outer_edges_and_single_character():
    runs = emission_runs([0, 0, 3, 3, 0])
    b = frame_boundaries(runs, 5)
    assert b[0] <= 2 and b[1] >= 4 and b[0] >= 0 and b[1] <= 5
    assert frame_boundaries(emission_runs([0, 0]), 2).size == 0


@pytest.mark.parametrize("fit, h, w, want", [
    ("height", 50, 333, 32 / 50), ("paper", 50, 333, 32 / 50),  # larger: scaled down alike
    ("height", 20, 300, 32 / 20), ("paper", 20, 300, 1.0),      # smaller: up only by `height`
    ("paper", 20, 900, 512 / 900),                               # too wide: down by width
])
def test_input_scale_matches_resize_pad(fit, h, w, want):
    img = np.full((h, w), 255, np.uint8)
    img[:, 100] = 0
    sx = input_scale_x(h, w, 32, 512, fit)
    assert sx == pytest.approx(want, rel=0.01)
    out = resize_pad(img, 32, 512, fit=fit)
    dark = np.flatnonzero(out.min(0) < 200)
    assert abs(dark.mean() - 100.5 * sx) < 1.5  # left-aligned in both modes: no offset


def test_snapping_moves_inner_boundaries_into_gaps_and_edges_onto_ink():
    ink = np.zeros(100)
    ink[10:30] = 5  # character 1
    ink[34:60] = 5  # character 2 (gap 30..33)
    ink[62:80] = 5  # character 3 (gap 60..61)
    b = np.array([0.0, 28.0, 63.0, 99.0])
    r = refine_with_ink(b, ink, snap=0.4)
    assert 30 <= r[1] <= 34 and 60 <= r[2] <= 62
    assert 8 <= r[0] <= 10 and 80 <= r[3] <= 82
    r0 = refine_with_ink(b, ink, snap=0.0)
    assert r0[1] == 28.0 and r0[2] == 63.0
    full = line_boundaries(emission_runs([0, 1, 0, 2, 0]), 5, 100, 1.0, 100)
    assert len(full) == 3 and (np.diff(full) > 0).all()
