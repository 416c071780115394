import numpy as np

from stackmix.mix.bank_build import normalize_line
from stackmix.mix.ink import column_ink, ink_centre_row, ink_extent, paper_level


def _line(h=64, w=200, band=(36, 48), paper=220):
    img = np.full((h, w), paper, np.uint8)
    img[band[0]:band[1], 20:180:6] = 30  # the writing: dense strokes in one band
    return img


def test_paper_level_and_extent():
    img = _line()
    assert paper_level(img) == 220
    assert ink_extent(column_ink(img)) == (20, 177)
    assert ink_extent(column_ink(np.full((8, 8), 200, np.uint8))) is None


def test_centre_ignores_ink_of_neighbouring_lines():
    img = _line()
    img[0:4, 10:190:15] = 30  # a few descenders of the line above, along the top edge
    assert abs(ink_centre_row(img) - 41.5) < 1.0
    plain = img[:, :].astype(np.float64)
    mass = np.maximum(220 * 0.88 - plain, 0).sum(1)
    assert (mass * np.arange(64)).sum() / mass.sum() < 38  # a plain centroid is pulled up


def test_normalize_line_centres_the_band_at_the_bank_height():
    out, sx, paper = normalize_line(_line(), 32)
    assert out.shape == (32, 100) and sx == 0.5 and paper == 220
    rows = np.flatnonzero((out < 150).any(1))
    assert abs((rows[0] + rows[-1]) / 2 - 15.5) <= 1.0
