"""Rendering of one synthetic line (stackmix.data.synthetic.rendering)."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from stackmix.data import synthetic as syn
from stackmix.data.synthetic import fonts, rendering


def test_extents_follow_the_glyphs() -> None:
    """A lone tall glyph on each side of a wide gap: extents sit on the two ink blobs."""
    rng = np.random.default_rng(0)
    font = syn.font_files("delius")[0]
    r = syn.render_line("l        l", font, rng)
    dark = r.image < np.median(r.image) - 50
    cols = np.nonzero(dark.any(axis=0))[0]
    gap = np.nonzero(np.diff(cols) > 1)[0]
    assert gap.size == 1
    left = (cols[0], cols[gap[0]] + 1)
    right = (cols[gap[0] + 1], cols[-1] + 1)
    (a0, a1), (b0, b1) = r.extents[0], r.extents[-1]
    assert abs(a0 - left[0]) <= 2 and abs(a1 - left[1]) <= 2
    assert abs(b0 - right[0]) <= 2 and abs(b1 - right[1]) <= 2
    assert r.extents[1][0] == a1 and r.extents[-2][1] == b0  # spaces fill the gap


def _draw_each_glyph(text, font, origin, shape):
    """The reference: every glyph drawn anew at its pen position (the prefix's length)."""
    canvas = np.zeros(shape, np.float32)
    ox, baseline = origin
    inks = []
    for i, ch in enumerate(text):
        if ch.isspace():
            inks.append(None)
            continue
        pen = ox + font.getlength(text[:i])
        ix = math.floor(pen)
        l, t, r, b = font.getbbox(ch, anchor="ls")
        im = Image.new("L", (r - l + 2, b - t + 2), 0)
        ImageDraw.Draw(im).text((pen - ix - l, -t), ch, font=font, fill=255, anchor="ls")
        g = np.asarray(im, np.float32) / 255.0
        rendering.paste_max(canvas, g, ix + l, int(baseline) + t)
        ys, xs = np.nonzero(g >= 0.35)
        inks.append((xs + ix + l, ys + int(baseline) + t) if xs.size else None)
    return canvas, inks


def test_cached_drawing_equals_drawing_every_glyph() -> None:
    """Glyph cache + cached advances draw the same canvas and the same ink as drawing every
    glyph anew, on a kerned font (Satisfy) and a variable one (Caveat), twice (cache warm)."""
    text = "Today AV, you'll see WAVE-47 Ty?"
    for family, weight in (("satisfy", 0), ("caveat", 600)):
        path = str(syn.font_files(family)[0])
        for size in (29, 29, 36):
            font = fonts.get_font(path, size, weight)
            shape = (90, int(font.getlength(text)) + 60)
            got, got_inks = rendering.draw_glyphs(text, (path, size, weight), (17, 60.0), shape)
            ref, ref_inks = _draw_each_glyph(text, font, (17, 60.0), shape)
            assert np.array_equal(got, ref)
            for a, b in zip(got_inks, ref_inks):
                assert (a is None) == (b is None)
                if a is not None:
                    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
