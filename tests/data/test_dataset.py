"""LineDataset: a transform that grows the canvas (the base rotation) is followed by a new fit."""
from __future__ import annotations

import numpy as np
import torch
import pytest
from PIL import Image

from conftest import load_aug
from stackmix.augment import build_train_transform
from stackmix.data.dataset import LineDataset
from stackmix.data.marking import Sample
from stackmix.text import CTCCodec

H, W = 32, 512


def corner_line(path, h=64, w=800) -> None:
    """A long line (as fitted: 32 × 400) with ink only in its top-left and bottom-right corners,
    where a rotation within the frame pushes the ends of a line out of it."""
    img = np.full((h, w), 255, np.uint8)
    img[: h // 5, : w // 20] = 0
    img[-h // 5:, -w // 20:] = 0
    Image.fromarray(img).save(path)


def rotated_item(tmp_path, angle: float, fit_output: bool) -> np.ndarray:
    aug = load_aug("base", "aug.base.clahe=null", "aug.base.jpeg=null", "aug.base.rotate.p=1",
                   f"aug.base.rotate.rotate=[{angle},{angle}]",
                   f"aug.base.rotate.fit_output={str(fit_output).lower()}")
    path = tmp_path / "line.png"
    corner_line(path)
    ds = LineDataset([Sample("s", path, "train", "ab")], CTCCodec("ab"), H, W,
                     transform=build_train_transform(aug, seed=0))
    return ds[0]["image"][0].numpy()


@pytest.mark.parametrize("angle", [3.0, -3.0])
def test_rotation_keeps_both_ends_of_the_line(tmp_path, angle):
    img = rotated_item(tmp_path, angle, fit_output=True)
    assert img.shape == (H, W)
    ink = img < 128
    cols = np.flatnonzero(ink.any(axis=0))
    # both corner blocks are still there, the line fitted to the input again: the rotated canvas,
    # 32·cos 3° + 400·sin 3° ≈ 53 px high, is scaled to 32 px (400 → ~240 px wide), left-aligned
    left = ink[:, : cols.max() // 4].sum()
    right = ink[:, 3 * cols.max() // 4:].sum()
    assert left > 0.6 * right and right > 0.6 * left, (left, right)
    assert cols.min() <= 3 and 220 < cols.max() < 260
    assert (img[:, 260:] == 255).all()


def test_rotation_within_the_frame_cuts_a_line_end(tmp_path):
    """What A.Rotate did (fit_output=false): at -3° both corner blocks (2 × 6 × 20 px of ink as
    fitted) leave the 32-px frame, the line ends a transcription still names."""
    img = rotated_item(tmp_path, -3.0, fit_output=False)
    assert (img < 128).sum() < 0.3 * 2 * 6 * 20


class _Invert:
    """A transform that marks what it touched: the image inverted."""

    def __call__(self, image):
        return {"image": 255 - image}


class _Generated:
    p = 1.0

    def __call__(self, rng):
        return np.full((32, 64), 7, np.uint8), "b"


def warm_dataset(tmp_path, warmup_steps: int, generator=None) -> LineDataset:
    path = tmp_path / "line.png"
    Image.fromarray(np.full((32, 64), 200, np.uint8)).save(path)
    return LineDataset([Sample("s", path, "train", "ab")], CTCCodec("ab"), H, W,
                       transform=_Invert(), generator=generator, warmup_steps=warmup_steps)


def test_warmup_ramps_the_augmentation_in_with_the_batch_number(tmp_path):
    ds = warm_dataset(tmp_path, warmup_steps=100)

    def augmented(step: int) -> float:  # share of 400 samples the transform touched
        return np.mean([ds[(0, seed, step)]["image"][0, 0, 0].item() == 55 for seed in range(400)])

    assert augmented(0) == 0.0
    assert 0.18 < augmented(25) < 0.32 and 0.65 < augmented(75) < 0.85
    assert augmented(100) == augmented(5000) == 1.0
    assert ds[0]["image"][0, 0, 0].item() == 55  # a key without a step: full augmentation
    plain = warm_dataset(tmp_path, warmup_steps=0)  # off: every sample augmented from the start
    assert all(plain[(0, seed, 0)]["image"][0, 0, 0].item() == 55 for seed in range(20))


def test_warmup_ramps_stackmix_in_and_leaves_full_strength_samples_unchanged(tmp_path):
    ds = warm_dataset(tmp_path, warmup_steps=10, generator=_Generated())
    texts = [ds[(0, seed, 5)]["text"] for seed in range(400)]
    assert 0.4 < texts.count("b") / 400 < 0.6  # p 1 at half strength
    assert {ds[(0, seed, 0)]["text"] for seed in range(50)} == {"ab"}
    plain = warm_dataset(tmp_path, warmup_steps=0, generator=_Generated())
    for seed in range(20):  # past the warm-up, the same samples as a run without it
        a, b = ds[(0, seed, 10)], plain[(0, seed)]
        assert a["text"] == b["text"] and torch.equal(a["image"], b["image"])
