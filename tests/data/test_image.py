import numpy as np
import pytest

from stackmix.data.image import FIT_MODES, fit_scale, fit_top, fitted_size, resize_pad


def test_resize_keeps_aspect_and_pads_white():
    img = np.zeros((20, 100), np.uint8)
    out = resize_pad(img, 40, 400)
    assert out.shape == (40, 400) and out.dtype == np.uint8
    assert (out[:, :200] == 0).all()  # scaled ×2 to 40×200, dark
    assert (out[:, 200:] == 255).all()  # white padding on the right


def test_too_wide_lines_are_fitted_by_width():
    img = np.zeros((10, 1000), np.uint8)
    out = resize_pad(img, 40, 400)
    assert fit_scale(10, 1000, 40, 400) == 0.4
    assert (out[:4] == 0).all() and (out[4:] == 255).all()


def test_rgb_and_tiny_images():
    assert resize_pad(np.zeros((3, 2, 3), np.uint8), 32, 64).shape == (32, 64, 3)
    assert resize_pad(np.zeros((1, 1), np.uint8), 32, 64).shape == (32, 64)


# ---------------------------------------------------------------------- fit modes (dataset.fit)
def _ink_box(out: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the dark pixels, bottom/right exclusive."""
    rows = np.flatnonzero((out < 128).any(1))
    cols = np.flatnonzero((out < 128).any(0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


@pytest.mark.parametrize("fit, box", [
    ("height", (0, 40, 0, 200)),   # scaled up ×2 to the input height, top-left
    ("paper", (10, 30, 0, 100)),   # kept at its size, centred vertically, left-aligned
])
def test_a_small_line_is_upscaled_only_in_height_mode(fit, box):
    img = np.zeros((20, 100), np.uint8)
    out = resize_pad(img, 40, 400, fit=fit)
    assert out.shape == (40, 400) and _ink_box(out) == box
    assert ((out < 128).sum()) == (box[1] - box[0]) * (box[3] - box[2])  # the rest is white


def test_paper_mode_keeps_a_small_line_pixel_for_pixel():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (13, 77), dtype=np.uint8)
    out = resize_pad(img, 40, 400, fit="paper")
    top = (40 - 13) // 2
    assert np.array_equal(out[top:top + 13, :77], img)  # no resampling at all
    assert (out[:top] == 255).all() and (out[top + 13:] == 255).all() and (out[:, 77:] == 255).all()
    assert fit_scale(13, 77, 40, 400, fit="paper") == 1.0
    assert fit_scale(13, 77, 40, 400, fit="height") == pytest.approx(40 / 13)


@pytest.mark.parametrize("fit", FIT_MODES)
def test_a_large_line_is_scaled_down_alike_in_both_modes(fit):
    img = np.zeros((100, 300), np.uint8)  # too tall: ×0.4 → 40×120
    assert fit_scale(100, 300, 40, 400, fit=fit) == pytest.approx(0.4)
    assert fitted_size(100, 300, 40, 400, fit=fit) == (40, 120)
    assert _ink_box(resize_pad(img, 40, 400, fit=fit)) == (0, 40, 0, 120)


@pytest.mark.parametrize("fit, top", [("height", 0), ("paper", 18)])
def test_a_too_wide_line_is_fitted_by_width_top_or_centred(fit, top):
    img = np.zeros((10, 1000), np.uint8)  # too wide: ×0.4 → 4×400
    assert fit_scale(10, 1000, 40, 400, fit=fit) == pytest.approx(0.4)
    assert fit_top(4, 40, fit=fit) == top
    assert _ink_box(resize_pad(img, 40, 400, fit=fit)) == (top, top + 4, 0, 400)


def test_a_short_but_too_wide_line_is_scaled_down_in_paper_mode():
    # 20 px high (fits the height) but 800 px wide (does not fit 400): ×0.5, never up
    out = resize_pad(np.zeros((20, 800), np.uint8), 40, 400, fit="paper")
    assert _ink_box(out) == (15, 25, 0, 400)


def test_colour_lines_and_unknown_modes():
    out = resize_pad(np.zeros((10, 20, 3), np.uint8), 32, 64, fit="paper")
    assert out.shape == (32, 64, 3) and _ink_box(out[..., 0]) == (11, 21, 0, 20)
    with pytest.raises(ValueError, match=r"unknown image fit mode 'stretch'.*dataset\.fit"):
        resize_pad(np.zeros((10, 20), np.uint8), 32, 64, fit="stretch")
