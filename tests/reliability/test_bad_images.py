"""Images that used to be read silently wrong or crash: decompression bombs (item 5), EXIF
orientation, 12-bit data in 16-bit files, float images with NaN, multi-frame files, degenerate
aspect ratios and blank images (item 7)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_dataset
from stackmix.data.datamodule import HTRDataModule
from stackmix.data.image import ImageReadError, read_gray
from stackmix.data.marking import MarkingError


def dm(root: Path, tmp_path: Path, cache: bool, **ds) -> HTRDataModule:
    cfg = {"name": "tiny", "root": str(root), "image_h": 32, "image_w": 128, **ds}
    return HTRDataModule(cfg, num_workers=0, cache_images=cache, cache_dir=str(tmp_path / "c"))


@pytest.fixture
def bomb(tmp_path) -> Path:
    """A 20000×20000 1-bit PNG: a few kB on disk, 400 Mpixels decoded (over Pillow's limit)."""
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000), 1).save(path, optimize=True)
    return path


def test_decompression_bomb_is_an_unreadable_image(bomb):
    with pytest.raises(ImageReadError, match=r"too large to decode safely: .*bomb.png"):
        read_gray(bomb)


@pytest.mark.parametrize("cache", [True, False])
def test_decompression_bomb_in_a_dataset_is_an_error_or_a_counted_skip(tmp_path, bomb, cache):
    root = make_dataset(tmp_path / "d")
    bomb.replace(root / "lines" / "0003.png")
    with pytest.raises(MarkingError, match=r"line 5 \(sample 's0003'.*too large"):
        dm(root, tmp_path, cache).splits
    m = dm(root, tmp_path, cache, on_bad_row="skip")
    assert [s.sample_id for s in m.marking.skipped] == ["s0003"]


def test_predict_skips_a_decompression_bomb_with_on_error_skip(tmp_path, bomb):
    """predict.py's image loading: the bomb is one counted skip, the other image is recognized."""
    from types import SimpleNamespace

    from stackmix.inference.engine import recognize

    ok = tmp_path / "ok.png"
    Image.new("L", (60, 20), 255).save(ok)
    seen = []
    model = SimpleNamespace(image_h=32, image_w=128, log_probs=lambda b: seen.append(b) or list(b))
    decoder = lambda lp: [SimpleNamespace(text="x", confidence=1.0, char_probs=[1.0]) for _ in lp]
    run = recognize(model, [bomb, ok], decoder, on_error="skip", progress=False)
    assert [p for p, _ in run.skipped] == [str(bomb)] and "too large" in run.skipped[0][1]
    assert [r.path for r in run.results] == [str(ok)]
    with pytest.raises(ImageReadError, match="too large"):
        recognize(model, [bomb, ok], decoder, on_error="raise", progress=False)


# --------------------------------------------------------------------------- silently wrong
def test_exif_orientation_is_applied(tmp_path):
    img = np.full((20, 80), 255, np.uint8)
    img[:, :10] = 0  # ink at the left end of a wide line
    stored = np.ascontiguousarray(np.rot90(img, 1))  # stored rotated: 80 high, 20 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rot.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    out = read_gray(path)
    assert out.shape == (20, 80)
    assert out[:, :8].mean() < 60 and out[:, 20:].mean() > 200


def test_twelve_bit_data_in_a_sixteen_bit_png_keeps_its_contrast(tmp_path):
    img = np.full((20, 60), 4095, np.uint16)  # white paper of 12-bit data
    img[5:15, 10:30] = 0
    path = tmp_path / "12bit.png"
    Image.fromarray(img).save(path)
    out = read_gray(path)
    assert out[0, 0] == 255 and out[10, 20] == 0


def test_float_tiff_with_nan_is_paper_where_not_a_number(tmp_path):
    img = np.ones((20, 60), np.float32)
    img[5:15, 10:30] = 0.0
    img[0, :5] = np.nan
    path = tmp_path / "f.tiff"
    Image.fromarray(img, mode="F").save(path)
    out = read_gray(path)
    assert out[0, 0] == 255 and out[1, 1] == 255 and out[10, 20] == 0


@pytest.mark.parametrize("cache", [True, False])
def test_blank_degenerate_and_multi_frame_images_are_counted_in_a_warning(tmp_path, cache, caplog):
    root = make_dataset(tmp_path / "d")
    Image.new("L", (20000, 30), 255).save(root / "lines" / "0001.png")  # blank and 20000×30
    Image.new("L", (30, 20000), 0).save(root / "lines" / "0002.png")    # blank and 30×20000
    frames = [Image.new("L", (60, 20), v) for v in (0, 255)]
    frames[0].save(root / "lines" / "0004.gif", save_all=True, append_images=frames[1:])
    text = (root / "marking.csv").read_text().replace("lines/0004.png", "lines/0004.gif")
    (root / "marking.csv").write_text(text)
    with caplog.at_level(logging.WARNING):
        dm(root, tmp_path, cache).splits
    log = caplog.text
    assert "2 image(s) of 'tiny' have a degenerate aspect ratio" in log
    assert "3 image(s) of 'tiny' are blank" in log  # the two above and the GIF's first frame
    if cache:  # the header says how many frames there are
        assert "1 image(s) of 'tiny' have several frames (the first is used)" in log
