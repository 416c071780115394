"""Base augmentations and build_train_transform over every conf/aug/*.yaml."""
from __future__ import annotations

from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

import stackmix
from stackmix.augment import HandwrittenBlots, build_train_transform, reseed
from stackmix.augment.base import BASE_DEFAULTS, build_base_transforms

AUG_DIR = Path(stackmix.__file__).parent / "conf" / "aug"
SHAPES = [(128, 2048), (128, 2048, 1), (128, 2048, 3), (5, 7), (1, 1), (1, 1, 3)]


def page(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full(shape, 240, np.uint8)
    h, w = shape[:2]
    img[h // 3 : max(h // 3 + 1, 2 * h // 3), w // 10 : max(w // 10 + 1, w // 2)] = 40
    return np.clip(img.astype(int) + rng.integers(-10, 10, shape), 0, 255).astype(np.uint8)


def load_aug(name: str):
    """The composed ``aug`` block (aug files are compositions: blots_stackmix = base + both blocks)."""
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=preview_aug", f"aug={name}",
                                            "paths.tokens_dir=/tmp/tokens", "dataset.name=dummy"])
    OmegaConf.resolve(cfg.aug)
    return cfg.aug


def test_base_defaults_are_the_papers():
    clahe, rotate, jpeg = build_base_transforms(BASE_DEFAULTS)
    assert isinstance(clahe, A.CLAHE) and clahe.p == 0.25 and clahe.clip_limit[1] == 4 and clahe.tile_grid_size == (8, 8)
    assert isinstance(rotate, A.Rotate) and rotate.p == 0.5 and rotate.limit == (-3, 3) and rotate.fill == 255
    assert isinstance(jpeg, A.ImageCompression) and jpeg.p == 0.5 and jpeg.quality_range == (75, 100)


@pytest.mark.parametrize("shape", SHAPES)
def test_base_keeps_shape_dtype(shape):
    forced = {k: {"p": 1.0} for k in BASE_DEFAULTS}
    t = A.Compose(build_base_transforms(forced), seed=0)
    img = page(shape)
    for _ in range(3):
        out = t(image=img)["image"]
        assert out.shape == img.shape and out.dtype == np.uint8


@pytest.mark.parametrize("shape", SHAPES)
def test_base_p0_is_identity(shape):
    t = A.Compose(build_base_transforms({k: {"p": 0.0} for k in BASE_DEFAULTS}), seed=0)
    img = page(shape)
    assert np.array_equal(t(image=img)["image"], img)


def test_base_p1_changes_the_image_and_rotation_fills_white():
    img = page((128, 512))
    out = A.Compose(build_base_transforms({k: {"p": 1.0} for k in BASE_DEFAULTS}), seed=0)(image=img)["image"]
    assert not np.array_equal(out, img)
    white = np.full((128, 512), 255, np.uint8)
    rot = A.Compose(build_base_transforms({"rotate": {"p": 1.0, "limit": 3}}), seed=1)(image=white)["image"]
    assert rot.min() >= 250, "rotation must fill the uncovered corners with white"


def test_base_null_entries_and_unknown_keys():
    assert build_base_transforms(None) == []
    assert [type(t) for t in build_base_transforms({"clahe": None, "rotate": {}, "jpeg": None})] == [A.Rotate]
    with pytest.raises(ValueError):
        build_base_transforms({"blur": {"p": 1}})
    with pytest.raises(ValueError):
        build_base_transforms({"rotate": {"angle": 3}})


EXPECTED = {
    "none": None,
    "base": [A.CLAHE, A.Rotate, A.ImageCompression],
    "blots": [HandwrittenBlots, A.CLAHE, A.Rotate, A.ImageCompression],
    "stackmix": [A.CLAHE, A.Rotate, A.ImageCompression],
    "blots_stackmix": [HandwrittenBlots, A.CLAHE, A.Rotate, A.ImageCompression],
}


def test_every_aug_config_is_tested():
    assert {p.stem for p in AUG_DIR.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_build_train_transform_from_config(name):
    aug = load_aug(name)
    assert set(aug) == {"name", "base", "blots", "stackmix"} and aug.name == name
    t = build_train_transform(aug, seed=3)
    if EXPECTED[name] is None:
        assert t is None
        return
    assert isinstance(t, A.Compose)
    assert [type(x) for x in t.transforms] == EXPECTED[name]
    # the same transform from a plain dict
    t2 = build_train_transform(OmegaConf.to_container(aug), seed=3)
    img = page((128, 2048))
    for i in range(4):
        a, b = t(image=img)["image"], t2(image=img)["image"]
        assert a.shape == img.shape and a.dtype == np.uint8
        assert np.array_equal(a, b), "same seed must give the same output"
    if "stackmix" in name:
        assert aug.stackmix.p == 0.8 and aug.stackmix.bank == "/tmp/tokens/dummy/bank"
    if aug.blots is not None:
        blots = t.transforms[0]
        ref = HandwrittenBlots()
        assert blots.get_transform_init_args() == ref.get_transform_init_args()  # paper settings
        assert blots.p == ref.p == 0.5


def test_build_train_transform_nothing_to_apply():
    assert build_train_transform(None) is None
    assert build_train_transform({"base": None, "blots": None, "stackmix": {"p": 0.8}}) is None


def test_transforms_share_one_random_state_and_reseed():
    t = build_train_transform(load_aug("blots"), seed=0)
    assert all(x.py_random is t.py_random and x.random_generator is t.random_generator for x in t.transforms)
    img = page((128, 1024))
    reseed(t, 5)
    first = [t(image=img)["image"] for _ in range(3)]
    reseed(t, 5)
    again = [t(image=img)["image"] for _ in range(3)]
    reseed(t, 6)
    other = [t(image=img)["image"] for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_unknown_blot_key_rejected():
    with pytest.raises(ValueError):
        build_train_transform({"base": None, "blots": {"p": 1, "colour": 3}})


def test_set_random_seed_keeps_the_state_shared():
    """DataLoader workers call transform.set_random_seed(...); children must not get equal streams."""
    t = build_train_transform(load_aug("base"), seed=0)
    t.set_random_seed(123)
    assert all(x.py_random is t.py_random for x in t.transforms)
    # with equally seeded children CLAHE (p .25) applied would always imply rotate (p .5) applied
    img = page((64, 256))
    clahe_only = 0
    for i in range(300):
        t.set_random_seed(i)
        t(image=img)
        applied = [bool(x.get_applied_params()) for x in t.transforms]
        clahe_only += applied[0] and not applied[1]
    assert clahe_only > 0
