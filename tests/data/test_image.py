import numpy as np

from stackmix.data.image import fit_scale, resize_pad


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
