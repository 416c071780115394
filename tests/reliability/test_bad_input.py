"""Bad input, end to end: every case either works, raises an error naming the item and the fix,
or (where the config allows skipping) is skipped and counted.

Cases already covered elsewhere (kept there, not repeated): missing column, duplicate sample_id,
unknown stage, missing image, empty text, path outside the dataset folder, too many fields,
non-UTF-8 and BOM-prefixed CSV, unreadable image in the marking check and in the cache
(tests/data/test_marking.py, tests/data/test_cache.py); characters outside the alphabet in
train (error or drop) and in test (kept and scored), train lines too long for CTC skipped with a
count, empty valid split (tests/data/test_datamodule.py).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np

import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from conftest import compose_train, make_dataset, render_line, tiny_train_overrides
from stackmix.data.datamodule import DatasetError, HTRDataModule
from stackmix.data.marking import MarkingError
from stackmix.data.image import ImageReadError, read_gray


def dm_for(root: Path, tmp_path: Path, cache: bool = True, time_steps: int = 32, **dataset):
    cfg = {"name": "tiny", "root": str(root), "image_h": 32, "image_w": 128, "alphabet": None,
           "normalize": {"collapse_whitespace": True}, **dataset}
    return HTRDataModule(cfg, batch_size=4, num_workers=0, time_steps=time_steps,
                         cache_images=cache, cache_dir=str(tmp_path / "cache"))


# --------------------------------------------------------------------------- image formats
def _page() -> np.ndarray:
    """White line with black ink (a rectangle): paper at (2, 2), ink at (10, 20)."""
    img = np.full((24, 64), 255, np.uint8)
    img[6:18, 12:40] = 0
    return img


def _save(img: np.ndarray, fmt: str, path: Path) -> Path:
    im = Image.fromarray(img)
    if fmt == "palette.png":
        im.convert("P").save(path)
    elif fmt == "palette_transparent.png":  # paper is the transparent palette entry
        p = im.convert("P")
        p.info["transparency"] = int(p.getpixel((0, 0)))
        p.save(path, transparency=int(p.getpixel((0, 0))))
    elif fmt in ("rgba.png", "rgba.tiff"):  # black ink whose opacity is its darkness: the
        rgba = np.zeros(img.shape + (4,), np.uint8)  # transparent paper's hidden colour is black
        rgba[..., 3] = 255 - img
        Image.fromarray(rgba, "RGBA").save(path)
    elif fmt == "la.png":
        la = np.stack([np.zeros_like(img), 255 - img], -1)
        Image.fromarray(la, "LA").save(path)
    elif fmt in ("gray16.png", "gray16.tiff"):
        Image.fromarray(img.astype(np.uint16) * 257).save(path)
    elif fmt in ("cmyk.tiff", "cmyk.jpg"):
        im.convert("CMYK").save(path)
    elif fmt == "bilevel.png":
        im.convert("1", dither=Image.Dither.NONE).save(path)
    elif fmt == "rgb.jpg":
        im.convert("RGB").save(path, quality=95)
    else:
        raise ValueError(fmt)
    return path


FORMATS = ["palette.png", "palette_transparent.png", "rgba.png", "rgba.tiff", "la.png",
           "gray16.png", "gray16.tiff", "cmyk.tiff", "cmyk.jpg", "bilevel.png", "rgb.jpg"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_uncommon_image_formats_read_as_white_paper_and_dark_ink(tmp_path, fmt):
    path = _save(_page(), fmt, tmp_path / f"line.{fmt}")
    gray = read_gray(path)
    assert gray.dtype == np.uint8 and gray.shape == (24, 64)
    assert gray[2, 2] >= 245, f"{fmt}: paper is not white ({gray[2, 2]})"
    assert gray[10, 20] <= 15, f"{fmt}: ink is not dark ({gray[10, 20]})"


@pytest.mark.parametrize("cache", [True, False])
def test_dataset_of_mixed_formats_trains_like_plain_png(tmp_path, cache):
    """The same lines saved as palette/alpha/16-bit/CMYK files give the same training images."""
    plain = make_dataset(tmp_path / "plain", counts=(len(FORMATS), 1, 1))
    mixed = tmp_path / "mixed"
    shutil.copytree(plain, mixed)
    rows = []
    for i, fmt in enumerate(FORMATS):
        rel = f"lines/{i:04d}.{fmt}"
        _save(cv2.imread(str(plain / "lines" / f"{i:04d}.png"), cv2.IMREAD_GRAYSCALE), fmt,
              mixed / rel)
        rows.append(rel)
    text = (mixed / "marking.csv").read_text().splitlines()
    for i, rel in enumerate(rows):
        text[i + 1] = text[i + 1].replace(f"lines/{i:04d}.png", rel)
    (mixed / "marking.csv").write_text("\n".join(text) + "\n")

    a = dm_for(plain, tmp_path / "a", cache=cache).dataset("train")
    b = dm_for(mixed, tmp_path / "b", cache=cache).dataset("train")
    assert len(b) == len(FORMATS)
    for i, fmt in enumerate(FORMATS):
        x, y = a.load(i).astype(int), b.load(i).astype(int)
        assert x.shape == y.shape, fmt
        # lossy JPEG and palette quantization move a few grey levels; 1-bit drops antialiasing
        assert np.abs(x - y).mean() < (15 if fmt == "bilevel.png" else 6), fmt


# --------------------------------------------------------------------------- broken images
def _png_bytes(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


def _jpeg_bytes(img: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", img)[1].tobytes()


BROKEN = {
    "zero_size": lambda img: b"",
    "truncated_png": lambda img: _png_bytes(img)[: len(_png_bytes(img)) // 2],
    "truncated_jpeg": lambda img: _jpeg_bytes(img)[: len(_jpeg_bytes(img)) // 2],
    "not_an_image": lambda img: b"<html>404 Not Found</html>",
}
READ_MESSAGE = {
    "zero_size": "empty \\(0 bytes\\)",
    "truncated_png": "cannot decode image",
    "truncated_jpeg": "cannot decode image",
    "not_an_image": "cannot decode image",
}


def _break(root: Path, index: int, kind: str) -> Path:
    path = root / "lines" / f"{index:04d}.png"
    img = render_line("bad face", 32)
    path.write_bytes(BROKEN[kind](img))
    return path


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_image_read_error_names_the_file(tmp_path, kind):
    root = make_dataset(tmp_path / "d", counts=(4, 1, 1))
    path = _break(root, 2, kind)
    with pytest.raises(ImageReadError, match=READ_MESSAGE[kind]) as e:
        read_gray(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_image_in_dataset_is_an_error_or_a_counted_skip(tmp_path, kind, cache):
    root = make_dataset(tmp_path / "d", counts=(6, 2, 2))
    _break(root, 3, kind)
    # default: stop, naming the marking.csv line, the sample and the fix
    with pytest.raises(MarkingError, match=r"line 5 \(sample 's0003'.*unreadable image") as e:
        dm_for(root, tmp_path, cache=cache).splits
    assert "0003.png" in str(e.value)
    assert re.search(READ_MESSAGE[kind], str(e.value)), str(e.value)  # same words, cache or not
    if cache:
        assert "dataset.on_bad_row=skip" in str(e.value)
    # on_bad_row=skip: left out, counted, listed
    dm = dm_for(root, tmp_path, cache=cache, on_bad_row="skip")
    assert [s.sample_id for s in dm.marking.skipped] == ["s0003"]
    assert "s0003" not in {s.sample_id for s in dm.splits["train"]}
    assert dm.info()["skipped_rows"] == 1 and dm.info()["counts"]["train"] == 5
    assert "skipped 1 rows: unreadable image" in dm.marking.summary()
    batch = next(iter(dm.train_dataloader()))  # and the rest trains
    assert batch["images"].shape == (4, 1, 32, 128)


def test_skipped_rows_of_every_kind_are_counted_in_the_run_summary(tmp_path):
    root = make_dataset(tmp_path / "d", counts=(8, 2, 2))
    _break(root, 1, "truncated_png")
    csv = (root / "marking.csv").read_text().splitlines()
    csv[3] = csv[3].replace("lines/0002.png", "lines/missing.png")  # missing image
    csv[4] = csv[4].replace("lines/0003.png", "../outside.png")  # outside the folder
    csv.append("s0001,lines/0004.png,train,abc,w0")  # duplicate id
    csv.append("x1,lines/0004.png,dev,abc,w0")  # unknown stage
    csv.append("x2,lines/0004.png,train,,w0")  # empty text
    (root / "marking.csv").write_text("\n".join(csv) + "\n")
    dm = dm_for(root, tmp_path, on_bad_row="skip")
    info = dm.info()  # what train.py puts in metrics.json
    assert info["skipped_rows"] == 6
    assert info["counts"] == {"train": 5, "valid": 2, "test": 2}
    summary = dm.marking.summary()
    for reason in ("unreadable image", "missing image", "outside the dataset folder",
                   "duplicate sample_id", "unknown stage", "empty text"):
        assert reason in summary, reason


# --------------------------------------------------------------------------- splits
def test_empty_train_split_is_a_clear_error(tmp_path):
    root = make_dataset(tmp_path / "d", counts=(0, 2, 2))
    with pytest.raises(DatasetError, match="has no 'train' rows"):
        dm_for(root, tmp_path).codec


def test_empty_test_split_is_a_clear_error(tmp_path):
    root = make_dataset(tmp_path / "d", counts=(4, 2, 0))
    with pytest.raises(DatasetError, match="'test' split of 'tiny' is empty.*stage=test"):
        dm_for(root, tmp_path).test_dataloader()


def test_no_train_line_left_after_checks_is_a_clear_error(tmp_path):
    root = make_dataset(tmp_path / "d", counts=(2, 1, 1), texts=["abcdef" * 8] * 2 + ["ab"] * 2)
    with pytest.raises(DatasetError, match="no usable train lines left"):
        dm_for(root, tmp_path).splits


# --------------------------------------------------------------------------- long lines
def tiny_module(alphabet: str):
    cfg = compose_train(tiny_train_overrides(Path("unused")))
    return instantiate(cfg.model, alphabet=alphabet, image_h=32, image_w=128,
                       _recursive_=False).eval()


def test_line_too_long_for_ctc_is_skipped_in_train_and_scored_in_test(tmp_path):
    long_text = "abcdef" * 7  # 42 symbols > 32 time steps: CTC cannot emit it
    texts = ["abc", long_text, "cab", "bad", "fade", long_text]
    root = make_dataset(tmp_path / "d", counts=(4, 1, 1), texts=texts)
    dm = dm_for(root, tmp_path, time_steps=32)
    assert dm.dropped["too_long_for_ctc"] == ["s0001"]
    assert dm.info()["dropped_train"] == {"too_long_for_ctc": 1}
    assert [s.text for s in dm.splits["test"]] == [long_text]

    module = tiny_module(dm.codec.alphabet)
    batch = next(iter(dm.test_dataloader()))
    assert batch["texts"] == [long_text]
    with torch.no_grad():
        loss, _, _ = module._eval_step(batch, module.test_metrics)
    assert torch.isfinite(loss)  # CTC's impossible alignment is zeroed, not inf/NaN
    cer = module.test_metrics["cer"]
    assert int(cer.total) == len(long_text)  # every reference character counts
    assert 0 < float(module.test_metrics.compute()["test/cer"])


# --------------------------------------------------------------------------- other steps
def test_char_masks_count_unreadable_images_as_rejected(tmp_path):
    from stackmix.data.marking import read_marking
    from stackmix.inference.recognizer import TorchRecognizer
    from stackmix.mix.masking import REJECT_IMAGE, compute_masks

    root = make_dataset(tmp_path / "d", counts=(6, 1, 1))
    samples = read_marking(root).stage("train")
    _break(root, 1, "truncated_png")
    (root / "lines" / "0004.png").unlink()
    module = tiny_module("abcdef ")
    masks, rejected, stats = compute_masks(TorchRecognizer(module, "cpu"), samples, root=root,
                                           progress=False)
    assert rejected[REJECT_IMAGE] == 2
    assert sum(rejected.values()) == len(samples) - len(masks)


def test_token_bank_names_a_missing_or_corrupt_image(tmp_path):
    from stackmix.mix.bank_build import build_bank
    from stackmix.mix.masks import CharMasks, LineMask

    root = make_dataset(tmp_path / "d", counts=(2, 0, 0), texts=["abc", "bad"])
    lines = [LineMask(f"s{i:04d}", f"lines/{i:04d}.png", t, 40, 32, [4.0, 14.0, 24.0, 34.0])
             for i, t in enumerate(["abc", "bad"])]
    masks = CharMasks("tiny", str(root), lines)
    _break(root, 1, "truncated_png")
    with pytest.raises(ImageReadError, match="0001.png"):
        build_bank(masks, tmp_path / "bank", height=16)
    (root / "lines" / "0001.png").unlink()
    with pytest.raises(ImageReadError, match="not found.*0001.png"):
        build_bank(masks, tmp_path / "bank", height=16)
    assert not list(tmp_path.glob("bank*"))  # nothing half-written


def test_predict_raises_or_skips_and_counts_unreadable_images(tmp_path):
    from stackmix.inference.decoders import GreedyDecoder
    from stackmix.inference.engine import recognize
    from stackmix.inference.recognizer import TorchRecognizer

    root = make_dataset(tmp_path / "d", counts=(3, 0, 0))
    paths = sorted((root / "lines").glob("*.png"))
    _break(root, 1, "zero_size")
    missing = root / "lines" / "nope.png"
    module = tiny_module("abcdef ")
    rec = TorchRecognizer(module, device="cpu")
    with pytest.raises(ImageReadError, match="0001.png"):
        recognize(rec, paths, GreedyDecoder(rec.alphabet), progress=False)
    run = recognize(rec, [*paths, missing], GreedyDecoder(rec.alphabet), on_error="skip",
                    progress=False)
    assert [Path(r.path).name for r in run.results] == ["0000.png", "0002.png"]
    assert [(Path(p).name, "empty" in why or "not found" in why) for p, why in run.skipped] == [
        ("0001.png", True), ("nope.png", True)]
