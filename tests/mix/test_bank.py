import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stackmix.mix.bank import BankError, BankNotFoundError, TokenBank, index_path
from stackmix.mix.bank_build import build_bank, normalize_line
from stackmix_fixtures import TEXTS, make_bank, make_masked_dataset, printed_line


def test_round_trip_every_span_and_crop(tmp_path):
    prefix, masks = make_bank(tmp_path, height=32)
    bank = TokenBank(prefix)
    assert bank.height == 32
    # every span of 1..8 characters of every masked line is in the bank
    want = {t[i:i + n] for t in TEXTS for n in range(1, 9) for i in range(len(t) - n + 1)}
    assert set(bank.span_ids) == want
    assert bank.chars == set("".join(TEXTS))
    assert bank.count("bad") == sum(t.count("bad") for t in TEXTS)
    # a crop is the slice of its normalized line between the span's boundaries
    line, sx, _ = normalize_line(printed_line(TEXTS[0])[0], 32)
    b = np.rint(np.asarray(masks.lines[0].bounds) * sx).astype(int)
    for j in range(bank.count("abc")):
        crop = bank.crop("abc", j)
        assert crop.dtype == np.uint8 and crop.shape[0] == 32
    crop = bank.crop("abc", 0)
    np.testing.assert_array_equal(crop, line[:, b[0]:b[3]])
    # one pixel file + one index, pixel file memory-mapped
    files = sorted(p.name for p in prefix.parent.glob("bank*"))
    assert len(files) == 2 and files[0].endswith(".pixels.npy") and files[1] == "bank.index.npz"
    assert isinstance(bank.pixels, np.memmap)


def test_cap_per_span_and_height(tmp_path):
    masks = make_masked_dataset(tmp_path / "data", texts=["aaaa aaaa"] * 5)
    s = build_bank(masks, tmp_path / "b", height=20, max_per_span=3)
    bank = TokenBank(tmp_path / "b")
    assert bank.count("a") == 3 and bank.count("aaaa") == 3 and bank.height == 20
    assert s.crops_before_cap > s.crops
    assert bank.crop("a", 2).shape[0] == 20


def test_pickle_carries_no_pixels(tmp_path):
    prefix, _ = make_bank(tmp_path)
    bank = TokenBank(prefix)
    _ = bank.pixels
    blob = pickle.dumps(bank)
    # the index travels (so a worker keeps this build even if the bank is rebuilt), pixels do not
    from stackmix.mix.bank import _INDEX_ARRAYS

    index_bytes = sum(getattr(bank, k).nbytes for k in _INDEX_ARRAYS)
    assert len(blob) < index_bytes + 4000
    back = pickle.loads(blob)
    assert back._pixels is None
    np.testing.assert_array_equal(back.crop("cab"), bank.crop("cab"))


def test_missing_and_corrupt_banks(tmp_path):
    with pytest.raises(BankNotFoundError):
        TokenBank(tmp_path / "nothing")
    prefix, _ = make_bank(tmp_path)
    index_path(prefix).write_bytes(b"garbage")
    with pytest.raises(BankError, match="rebuild"):
        TokenBank(prefix)


def test_rebuild_replaces_the_old_pixel_file(tmp_path):
    prefix, masks = make_bank(tmp_path)
    first = TokenBank(prefix).pixels_path
    build_bank(masks, prefix, height=24)
    bank = TokenBank(prefix)
    assert bank.height == 24 and bank.pixels_path != first and not first.exists()


KILL_SCRIPT = r"""
import os, signal, sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from stackmix.mix.bank_build import build_bank
from stackmix.mix.masks import CharMasks
real = np.savez
def dying_savez(fh, **arrays):
    fh.write(b"PK half an index")
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)
np.savez = dying_savez
build_bank(CharMasks.load(sys.argv[1]), sys.argv[2], height=16)
"""


def test_killed_build_leaves_the_previous_bank_trusted(tmp_path):
    prefix, masks = make_bank(tmp_path, height=32)
    before = TokenBank(prefix)
    old_pixels = before.pixels_path
    old_crop = before.crop("face")
    masks_file = tmp_path / "tokens" / "char_masks.json"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(masks_file), str(prefix),
                           str(Path(__file__).parent)], capture_output=True, timeout=120)
    assert proc.returncode == -9
    # the killed job wrote a new pixel file and part of an index under temporary names only
    after = TokenBank(prefix)
    assert after.height == 32 and after.pixels_path == old_pixels
    np.testing.assert_array_equal(after.crop("face"), old_crop)
    leftovers = [p.name for p in prefix.parent.iterdir() if p.name.startswith(".")]
    assert leftovers and all(".tmp" in n for n in leftovers)
    # a later build succeeds and cleans the orphaned pixel file (and, once no reader holds it,
    # the previous one)
    del before, after
    build_bank(masks, prefix, height=32)
    assert len(list(prefix.parent.glob("bank-*.pixels.npy"))) == 1


def test_default_height_never_upscales_the_lines(tmp_path):
    from stackmix.mix.bank_build import default_height

    masks = make_masked_dataset(tmp_path / "data")  # 40-px lines, model input 32 px high
    assert default_height(masks) == 32
    masks.meta["image_h"] = 128
    assert default_height(masks) == 40
    assert default_height(masks, upscale=True) == 128
