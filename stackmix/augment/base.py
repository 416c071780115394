"""Base (photometric + small geometric) train augmentations of the paper, albumentations 2.x.

``base`` config block (every entry optional; an entry set to ``null`` is left out)::

    clahe:  {p: 0.25, clip_limit: 4.0, tile_grid_size: [8, 8]}   # local contrast (A.CLAHE)
    rotate: {p: 0.5, limit: 3}                                    # ±limit degrees, white fill
    jpeg:   {p: 0.5, quality_range: [75, 100]}                    # JPEG re-compression

Rotation keeps the image size (corners are cut, the uncovered area is filled with white 255,
the page colour used by the resize/pad step). All three work on (H, W), (H, W, 1) and
(H, W, 3) uint8 images and keep shape and dtype.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import albumentations as A
import cv2

__all__ = ["BASE_DEFAULTS", "build_base_transforms"]

PAGE_WHITE = 255

BASE_DEFAULTS: dict[str, dict[str, Any]] = {
    "clahe": {"p": 0.25, "clip_limit": 4.0, "tile_grid_size": (8, 8)},
    "rotate": {"p": 0.5, "limit": 3},
    "jpeg": {"p": 0.5, "quality_range": (75, 100)},
}

_KNOWN = {"clahe": {"p", "clip_limit", "tile_grid_size"}, "rotate": {"p", "limit"}, "jpeg": {"p", "quality_range"}}


def _merged(name: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    unknown = set(given or {}) - _KNOWN[name]
    if unknown:
        raise ValueError(f"aug.base.{name}: unknown keys {sorted(unknown)}; expected {sorted(_KNOWN[name])}")
    out = dict(BASE_DEFAULTS[name])
    out.update(given or {})
    return out


def build_base_transforms(cfg: Mapping[str, Any] | None) -> list[A.BasicTransform]:
    """The base augmentations listed in ``cfg`` (a plain mapping), in the order CLAHE, rotate, JPEG.

    A key that is absent or ``null`` is skipped; a key given as ``{}`` uses the paper's defaults.
    Returns an empty list for ``cfg=None``.
    """
    if cfg is None:
        return []
    unknown = set(cfg) - set(BASE_DEFAULTS)
    if unknown:
        raise ValueError(f"aug.base: unknown augmentations {sorted(unknown)}; expected {sorted(BASE_DEFAULTS)}")
    out: list[A.BasicTransform] = []
    if cfg.get("clahe") is not None:
        c = _merged("clahe", cfg["clahe"])
        out.append(A.CLAHE(clip_limit=float(c["clip_limit"]), tile_grid_size=tuple(c["tile_grid_size"]), p=c["p"]))
    if cfg.get("rotate") is not None:
        c = _merged("rotate", cfg["rotate"])
        out.append(
            A.Rotate(
                limit=float(c["limit"]),
                interpolation=cv2.INTER_LINEAR,
                border_mode=cv2.BORDER_CONSTANT,
                fill=PAGE_WHITE,
                p=c["p"],
            )
        )
    if cfg.get("jpeg") is not None:
        c = _merged("jpeg", cfg["jpeg"])
        out.append(A.ImageCompression(compression_type="jpeg", quality_range=tuple(c["quality_range"]), p=c["p"]))
    return out
