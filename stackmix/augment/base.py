"""Albumentations transforms built from config nodes with a ``_target_`` (hydra.utils.instantiate).

The ``aug.base`` block (``conf/aug/base.yaml``) names the paper's three transforms (``clahe``,
``rotate``, ``jpeg``) and a list ``extra`` of any further ones, each as
``{_target_: <class>, <its arguments>}``; ``aug.blots`` is a node of the same kind. A new
albumentations transform (or any callable with albumentations' interface) is therefore added in
YAML alone, e.g. ``aug.base.extra=[{_target_:albumentations.GaussianBlur,p:0.3}]``.

The values live in the YAML files (one place); this module only builds them. Unknown keys of the
three paper transforms are refused when the config is composed (``stackmix.conf.schema``); for an
``extra`` transform the class itself checks its arguments, and the warning albumentations gives
for an argument it does not know is turned into an error here.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import albumentations as A
from hydra.errors import InstantiationException
from hydra.utils import instantiate

__all__ = ["build_base_transforms", "build_transform"]


def build_transform(node: Mapping[str, Any], where: str) -> A.BasicTransform:
    """The transform a ``{_target_: ..., **arguments}`` node describes; ``where`` (the config
    path, e.g. ``aug.base.extra[0]``) names the node in errors."""
    if not isinstance(node, Mapping) or "_target_" not in node:
        raise ValueError(
            f"{where}: a transform is given as {{_target_: <class>, <arguments>}} (for example "
            f"{{_target_: albumentations.GaussianBlur, p: 0.3}}), got {node!r}; add its _target_.")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Argument\(s\) .* are not valid for transform")
        try:
            out = instantiate(dict(node), _convert_="all")
        except (InstantiationException, TypeError, ValueError) as e:
            cause = e.__cause__ or e
            raise ValueError(f"{where}: cannot build {node['_target_']} from {dict(node)!r}: "
                             f"{cause}. Check the class name and its argument names.") from e
    if not callable(out):
        raise ValueError(f"{where}: {node['_target_']} did not give a transform (got {type(out).__name__})")
    return out


def build_base_transforms(cfg: Mapping[str, Any] | None) -> list[A.BasicTransform]:
    """The transforms of an ``aug.base`` block (a plain mapping or DictConfig), in its order: every
    named entry (``clahe``, ``rotate``, ``jpeg``; skipped when ``null``), then every node of
    ``extra``. Returns an empty list for ``cfg=None``."""
    if cfg is None:
        return []
    out = [build_transform(node, f"aug.base.{k}") for k, node in cfg.items()
           if k != "extra" and node is not None]
    extra = cfg.get("extra") or []
    if not isinstance(extra, Sequence) or isinstance(extra, (str, bytes)):
        raise ValueError(f"aug.base.extra must be a list of transforms, got {extra!r}")
    out.extend(build_transform(node, f"aug.base.extra[{i}]") for i, node in enumerate(extra))
    return out
