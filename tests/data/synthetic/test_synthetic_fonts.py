"""Fonts of the synthetic dataset (stackmix.data.synthetic.fonts): packages, pen positions, the
glyph cache."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stackmix.data import synthetic as syn
from stackmix.data.synthetic import fonts

TEXT = "AVATAR Today, you'll try 1947 WAVE-forms? \"quick\" Ty Yo To LT"


def test_missing_font_package_is_explained(monkeypatch) -> None:
    monkeypatch.setitem(syn.FONT_PACKAGES, "nope", "fontpkg_does_not_exist")
    with pytest.raises(syn.SyntheticDataError, match="pip install fontpkg-does-not-exist"):
        syn.font_files("nope")


@pytest.mark.parametrize("family", ["satisfy", "caveat", "kalam"])
def test_pen_positions_equal_prefix_lengths(family) -> None:
    """Cached per-character (and per-pair) advances add up to Pillow's length of every prefix."""
    for size in (23, 31, 40):
        path = str(syn.font_files(family)[0])
        key = (path, size, 0)
        font = fonts.get_font(*key)
        assert fonts.pen_positions(key, TEXT) == [font.getlength(TEXT[:i]) for i in range(len(TEXT) + 1)]


def test_kerned_font_is_recognised() -> None:
    """Satisfy has a kern table whose pairs change prefix lengths: the test above then covers
    the pair term (without it, the positions would be off)."""
    path = str(syn.font_files("satisfy")[0])
    assert fonts.has_kern_table(path) and not fonts.has_kern_table(str(syn.font_files("caveat")[0]))
    font = fonts.get_font(path, 40)
    assert any(font.getlength(a + b) != font.getlength(a) + font.getlength(b)
               for a, b in zip(TEXT, TEXT[1:]))


def test_cached_glyph_is_the_glyph_drawn_anew() -> None:
    """A glyph from the cache is exactly the one drawn on its own at that sub-pixel offset."""
    path = str(syn.font_files("dancing_script")[0])
    for weight in (0, 550):
        key = (path, 27, weight)
        font = fonts.get_font(*key)
        for ch in "gQ,'7":
            for frac in (0.0, 0.25, 0.640625):
                g = fonts.glyph(key, ch, frac)
                l, t, r, b = font.getbbox(ch, anchor="ls")
                im = Image.new("L", (r - l + 2, b - t + 2), 0)
                ImageDraw.Draw(im).text((frac - l, -t), ch, font=font, fill=255, anchor="ls")
                ref = np.asarray(im, np.float32) / 255.0
                assert (g.left, g.top) == (l, t) and np.array_equal(g.coverage, ref)
                ys, xs = np.nonzero(ref >= fonts.INK_THRESHOLD)
                assert np.array_equal(g.ink_x, xs) and np.array_equal(g.ink_y, ys)
                assert fonts.glyph(key, ch, frac) is g   # cached
