"""The token bank gives every character at least one pixel column, even where the char masks put
two boundaries on the same column (a crop of n characters is never narrower than n columns)."""
import numpy as np

from stackmix.mix.bank import TokenBank
from stackmix.mix.bank_build import build_bank
from stackmix.mix.masks import CharMasks, LineMask
from stackmix_fixtures import printed_line


def test_every_character_keeps_at_least_one_column(tmp_path):
    img, bounds = printed_line("abcd")
    # the masks squeeze "b" and "c" onto one column: zero-width characters before the bank
    squeezed = [bounds[0], bounds[1], bounds[1] + 0.2, bounds[1] + 0.3, bounds[4]]
    masks = CharMasks("tiny", str(tmp_path), [LineMask("s0", "x.png", "abcd", img.shape[1],
                                                       img.shape[0], squeezed)])
    build_bank(masks, tmp_path / "bank", height=img.shape[0], images={"s0": img})
    bank = TokenBank(tmp_path / "bank")
    for span in ("b", "c", "bc", "abcd"):
        x0, x1 = bank.crop_columns(int(bank.span_start[bank.span_ids[span]]), len(span))
        assert x1 - x0 >= len(span), (span, x0, x1)
        assert bank.crop(span).shape[1] >= len(span)
    assert np.all(np.diff(bank.bounds[:5]) >= 1)
