"""Base augmentations and build_train_transform over every conf/aug/*.yaml."""
from __future__ import annotations

from pathlib import Path

import albumentations as A
import numpy as np
import pytest
from omegaconf import OmegaConf

import stackmix
from conftest import compose_train, load_aug, paper_blots
from stackmix.augment import HandwrittenBlots, build_blots, build_train_transform, reseed
from stackmix.augment.base import build_base_transforms

AUG_DIR = Path(stackmix.__file__).parent / "conf" / "aug"
SHAPES = [(128, 2048), (128, 2048, 1), (128, 2048, 3), (5, 7), (1, 1), (1, 1, 3)]


def page(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full(shape, 240, np.uint8)
    h, w = shape[:2]
    img[h // 3 : max(h // 3 + 1, 2 * h // 3), w // 10 : max(w // 10 + 1, w // 2)] = 40
    return np.clip(img.astype(int) + rng.integers(-10, 10, shape), 0, 255).astype(np.uint8)


def paper_base(**changes) -> dict:
    """The ``aug.base`` block of conf/aug/base.yaml (the one home of its values), as a dict, with
    every given entry's keys updated (``rotate={"p": 1.0}``) or the entry dropped (``jpeg=None``)."""
    base = OmegaConf.to_container(load_aug("base").base)
    for name, change in changes.items():
        base[name] = None if change is None else {**base[name], **change}
    return base


def forced(p: float) -> dict:
    return paper_base(clahe={"p": p}, rotate={"p": p}, jpeg={"p": p})


def test_base_defaults_are_the_papers():
    clahe, rotate, jpeg = build_base_transforms(paper_base())
    assert isinstance(clahe, A.CLAHE) and clahe.p == 0.25 and clahe.clip_limit[1] == 4 and clahe.tile_grid_size == (8, 8)
    assert isinstance(rotate, A.Affine) and rotate.p == 0.5 and rotate.rotate == (-3, 3) and rotate.fill == 255
    assert rotate.fit_output, "the rotation must keep the whole line (no cut line ends)"
    assert isinstance(jpeg, A.ImageCompression) and jpeg.p == 0.5 and jpeg.quality_range == (75, 100)


@pytest.mark.parametrize("shape", SHAPES)
def test_base_keeps_channels_dtype_and_grows_only_by_the_rotation(shape):
    """The rotation keeps the whole line: the canvas grows by at most what a 3° turn needs (the
    dataset fits the line to the model input again afterwards)."""
    t = A.Compose(build_base_transforms(forced(1.0)), seed=0)
    img = page(shape)
    h, w = shape[:2]
    s = np.sin(np.radians(3))
    for _ in range(3):
        out = t(image=img)["image"]
        assert out.ndim == img.ndim and out.shape[2:] == img.shape[2:] and out.dtype == np.uint8
        assert h <= out.shape[0] <= h + w * s + 3 and w <= out.shape[1] <= w + h * s + 3  # rounding


@pytest.mark.parametrize("shape", SHAPES)
def test_base_p0_is_identity(shape):
    t = A.Compose(build_base_transforms(forced(0.0)), seed=0)
    img = page(shape)
    assert np.array_equal(t(image=img)["image"], img)


def test_base_p1_changes_the_image_and_rotation_fills_white():
    img = page((128, 512))
    out = A.Compose(build_base_transforms(forced(1.0)), seed=0)(image=img)["image"]
    assert not np.array_equal(out, img)
    white = np.full((128, 512), 255, np.uint8)
    rot = A.Compose(build_base_transforms(paper_base(rotate={"p": 1.0, "fit_output": False}, clahe=None, jpeg=None)), seed=1)(image=white)["image"]
    assert rot.min() >= 250, "rotation must fill the uncovered corners with white"


def test_base_null_entries_and_unknown_keys(tmp_path):
    assert build_base_transforms(None) == []
    assert [type(t) for t in build_base_transforms(paper_base(clahe=None, jpeg=None))] == [A.Affine]
    with pytest.raises(ValueError, match="aug.base.blur: a transform is given as"):
        build_base_transforms({"blur": {"p": 1}})  # no _target_
    with pytest.raises(ValueError, match="aug.base.rotate: cannot build albumentations.Affine"):
        build_base_transforms(paper_base(rotate={"angle": 3}))  # albumentations only warns
    # in a composed config the schema refuses both before anything is built
    for override in ("aug.base.blur.p=1", "aug.base.rotate.angle=3"):
        with pytest.raises(Exception, match="Could not override|not in"):
            compose_train(["aug=base", override], tmp_path)


def test_a_transform_given_only_in_yaml_is_applied(tmp_path):
    """aug.base.extra takes any albumentations transform by its _target_: no Python change."""
    cfg = compose_train(["aug=base", "aug.base.clahe=null", "aug.base.rotate=null",
                         "aug.base.jpeg=null",
                         "aug.base.extra=[{_target_:albumentations.InvertImg,p:1.0}]"], tmp_path)
    t = build_train_transform(cfg.aug, seed=0)
    assert [type(x) for x in t.transforms] == [A.InvertImg]
    img = page((32, 64))
    assert np.array_equal(t(image=img)["image"], 255 - img)
    # composed after the paper's three, sharing their random state
    cfg = compose_train(["aug=blots", "aug.base.extra=[{_target_:albumentations.GaussianBlur,p:0.3}]"],
                        tmp_path)
    t = build_train_transform(cfg.aug, seed=0)
    assert [type(x) for x in t.transforms] == [HandwrittenBlots, A.CLAHE, A.Affine,
                                              A.ImageCompression, A.GaussianBlur]
    assert t.transforms[-1].p == 0.3 and t.transforms[-1].py_random is t.py_random
    with pytest.raises(ValueError, match=r"aug.base.extra\[0\]: cannot build albumentations.NoSuchBlur"):
        build_base_transforms({"extra": [{"_target_": "albumentations.NoSuchBlur"}]})
    with pytest.raises(ValueError, match=r"aug.base.extra\[0\]: cannot build albumentations.GaussianBlur"):
        build_base_transforms({"extra": [{"_target_": "albumentations.GaussianBlur", "sigma": 2}]})


EXPECTED = {
    "none": None,
    "base": [A.CLAHE, A.Affine, A.ImageCompression],
    "blots": [HandwrittenBlots, A.CLAHE, A.Affine, A.ImageCompression],
    "stackmix": [A.CLAHE, A.Affine, A.ImageCompression],
    "blots_stackmix": [HandwrittenBlots, A.CLAHE, A.Affine, A.ImageCompression],
}


def test_every_aug_config_is_tested():
    assert {p.stem for p in AUG_DIR.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_build_train_transform_from_config(name):
    aug = load_aug(name)
    assert set(aug) == {"name", "base", "blots", "stackmix", "warmup_steps"} and aug.name == name
    assert aug.warmup_steps == 0  # the paper: full augmentation from the first batch
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
        assert a.ndim == img.ndim and a.dtype == np.uint8
        assert np.array_equal(a, b), "same seed must give the same output"
    if "stackmix" in name:
        assert aug.stackmix.p == 0.8 and aug.stackmix.bank == "/tmp/tokens/dummy/bank"
    if aug.blots is not None:
        blots = t.transforms[0]
        ref = paper_blots()
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
        build_train_transform({"base": None, "blots": {"p": 1, "colour": 3}})  # no _target_
    with pytest.raises(ValueError, match="aug.blots: cannot build stackmix.augment.HandwrittenBlots"):
        build_train_transform({"base": None, "blots": {**load_aug("blots").blots, "colour": 3}})


def test_blot_geometry_scales_with_line_height():
    from stackmix.augment import scale_blots_to_height

    blots = {"height_range": [50, 100], "width_range": [20, 100], "thickness_range": [1, 4], "p": 0.5}
    assert scale_blots_to_height(blots, 128) is blots
    half = scale_blots_to_height(blots, 64)
    assert half["height_range"] == [25, 50] and half["width_range"] == [10, 50]
    assert half["thickness_range"] == [1, 2] and half["p"] == 0.5
    # build_train_transform applies it: the data module hands in dataset.image_h
    t = build_train_transform(load_aug("blots"), seed=0, image_h=64)
    assert t.transforms[0].height_range == (25, 50) and t.transforms[0].incline_range == (5, 25)
    assert build_blots(load_aug("blots").blots).height_range == (50, 100)


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
