"""Background smoothing of StackMix lines on crops whose paper differs (the shared fixture's lines
all have the same paper level, on which smoothing is the identity)."""
import numpy as np

from stackmix.mix import StackMixGenerator
from stackmix.mix.bank import TokenBank
from stackmix.mix.bank_build import build_bank
from stackmix.mix.masks import CharMasks, LineMask
from stackmix_fixtures import printed_line


def _bank(tmp_path):
    lines, images = [], {}
    for i, (text, paper) in enumerate([("ab", 200), ("cd", 250)]):
        img, bounds = printed_line(text, paper=paper)
        images[f"s{i}"] = img
        lines.append(LineMask(f"s{i}", f"{i}.png", text, img.shape[1], img.shape[0], bounds))
    build_bank(CharMasks("tiny", str(tmp_path), lines), tmp_path / "bank", height=40,
               images=images)
    return TokenBank(tmp_path / "bank")


def _paper_levels(img: np.ndarray, split: int) -> tuple[int, int]:
    """Median of the light pixels left and right of column ``split``."""
    left, right = img[:, :split], img[:, split:]
    return int(np.median(left[left > 150])), int(np.median(right[right > 150]))


def test_smoothing_brings_crops_of_different_paper_to_one_level(tmp_path):
    bank = _bank(tmp_path)
    gen = StackMixGenerator(bank, smooth_background_p=1.0)
    rng = np.random.default_rng(0)
    out = gen.render("ac", rng)  # "a" from the 200-paper line, "c" from the 250-paper line
    split = int(out.char_extents[1, 0])
    raw = gen.draw("ac", np.random.default_rng(0), smooth=False)
    a, c = _paper_levels(raw, split)
    assert c - a >= 40  # the two crops keep their own paper without smoothing
    smooth = gen.draw("ac", np.random.default_rng(0), smooth=True)
    a, c = _paper_levels(smooth, split)
    assert abs(c - a) <= 3 and 215 <= a <= 235  # one paper, at the mean level
    # with the default probability (smooth_background_p > 0) some lines are smoothed
    gen = StackMixGenerator(bank)
    levels = [_paper_levels(gen.draw("ac", np.random.default_rng(s)), split) for s in range(60)]
    assert any(abs(c - a) <= 3 for a, c in levels) and any(c - a >= 40 for a, c in levels)
