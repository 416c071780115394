"""Train-time image augmentations: the paper's base pipeline and HandWritten Blots.

``build_train_transform(cfg.aug, seed=..., image_h=...)`` turns an ``aug`` config (see
``conf/aug/*.yaml``) into one ``A.Compose`` that maps ``image=`` (uint8 (H, W), (H, W, 1) or
(H, W, 3)) to an image of the same shape and dtype. Every transform is built from its config
node's ``_target_`` (:mod:`stackmix.augment.base`), so the YAML files are the one place of their
settings and a new albumentations transform is added in YAML alone (``aug.base.extra``). The
``stackmix`` block of the config is not used here: StackMix replaces whole samples and is plugged
in by the data module.

Modules: ``base`` (transforms from ``_target_`` nodes), ``blots`` (the HandWritten Blots
transform and the scaling of its sizes to the line height), ``strokes`` (the blot pen paths and
their rasterisation).

Order: **blots first, then the base augmentations.** Blots stand for ink that was on the page
before it was scanned, while CLAHE, the small rotation and JPEG re-compression stand for the
scan / photo. Applying the base augs after the blots makes the blot ink go through the same
contrast change, resampling and compression artefacts as the handwriting, so the network cannot
tell blots apart from text by their clean, perfectly anti-aliased edges.

Random state: all transforms of the returned Compose share ONE numpy generator and ONE
``random.Random`` (albumentations' own ``Compose(seed=N)`` gives every child an identically seeded
generator, which correlates their decisions, e.g. "CLAHE applied ⇒ rotate applied"); the
returned :class:`SharedSeedCompose` keeps that property when ``set_random_seed`` is called
again. Re-seed it in each DataLoader worker (``transform.set_random_seed(seed + worker_id)`` or
:func:`reseed`), otherwise forked workers repeat each other's augmentations.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import albumentations as A
import numpy as np

from stackmix.augment.base import build_base_transforms, build_transform
from stackmix.augment.blots import HandwrittenBlots, scale_blots_to_height

__all__ = [
    "HandwrittenBlots",
    "SharedSeedCompose",
    "build_base_transforms",
    "build_blots",
    "build_train_transform",
    "reseed",
    "scale_blots_to_height",
]


def _plain(node: Any) -> Any:
    """A DictConfig/ListConfig sub-node as plain Python containers (resolved); others unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover
        return node
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _get(cfg: Any, key: str) -> Any:
    if cfg is None:
        return None
    if isinstance(cfg, Mapping) or hasattr(cfg, "get"):
        return cfg.get(key)
    return getattr(cfg, key, None)


def build_blots(cfg: Mapping[str, Any] | None, image_h: int | None = None) -> HandwrittenBlots | None:
    """The transform of an ``aug.blots`` node (``{_target_: stackmix.augment.HandwrittenBlots,
    ...}``; None when the block is null), its sizes scaled to ``image_h``-pixel lines if given."""
    cfg = _plain(cfg)
    if cfg is None:
        return None
    if image_h is not None:
        cfg = scale_blots_to_height(cfg, image_h)
    return build_transform(cfg, "aug.blots")


class SharedSeedCompose(A.Compose):
    """``A.Compose`` whose transforms share one random state, also after ``set_random_seed``.

    Plain ``A.Compose.set_random_seed(N)`` seeds every child with the same ``N``, so the children
    draw identical random sequences (correlated decisions). Here the seed makes ONE numpy
    generator and ONE ``random.Random`` that all children use.
    """

    def set_random_seed(self, seed: int | None) -> None:
        self.seed = seed
        self.set_random_state(np.random.default_rng(seed), random.Random(seed))


def reseed(transform: A.BaseCompose, seed: int | None) -> None:
    """Give every transform in ``transform`` one shared random state seeded with ``seed``."""
    transform.set_random_state(np.random.default_rng(seed), random.Random(seed))


def build_train_transform(aug_cfg: Mapping[str, Any] | None, seed: int | None = None,
                          image_h: int | None = None) -> A.Compose | None:
    """Build the train-time transform from an ``aug`` config (DictConfig or dict).

    Keys: ``blots`` (a ``_target_`` node or null) and ``base`` (see
    :func:`~stackmix.augment.base.build_base_transforms`); ``stackmix`` and ``name`` are ignored
    here. ``image_h``: the height of the lines the transform gets; the blot sizes (written for
    128-px lines, as in the paper) are scaled to it. Returns ``None`` when neither base nor blots
    is configured. With ``seed`` the result is deterministic (same seed, same input sequence →
    same outputs).
    """
    if aug_cfg is None:
        return None
    transforms: list[A.BasicTransform] = []
    blots = build_blots(_get(aug_cfg, "blots"), image_h)
    if blots is not None:
        transforms.append(blots)
    transforms.extend(build_base_transforms(_plain(_get(aug_cfg, "base"))))
    if not transforms:
        return None
    return SharedSeedCompose(transforms, seed=seed)
