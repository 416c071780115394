"""``python prepare.py task=import format=alto|pagexml|gt_txt input=<path> out=<folder> [split=...]``.

Imports users' own transcribed pages or lines into the prepared format; see
:mod:`stackmix.data.formats` for the formats and the split options (``split=page|document|
group|writer|list|none``, ``task.group_pattern``, ``images=<folder>``, ``task.ratios``, ``task.lists.train=...``, ``task.writers=...``,
``task.stage=test``, ``task.geometry=polygon``, ``task.padding=8``). Logs and returns the
validation report; writes nothing unless the whole import succeeds.

(``task=import`` runs this module: ``import`` itself is a Python keyword.)
"""
from __future__ import annotations

import logging

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

from stackmix.data.formats import import_dataset

log = logging.getLogger("stackmix.prepare.import")


def run(cfg: DictConfig) -> dict:
    t = cfg.task
    values = {}
    for key in ("format", "input", "out"):
        try:
            values[key] = str(t[key])
        except (MissingMandatoryValue, InterpolationToMissingValueError):
            raise SystemExit(
                f"missing {key}=...: usage: python prepare.py task=import "
                "format=alto|pagexml|gt_txt input=<file or folder> out=<new dataset folder> "
                "[split=page|document|writer|list|none]"
            ) from None
    fmt, input_, out = values["format"], values["input"], values["out"]
    ratios = t.get("ratios")
    ratios = OmegaConf.to_container(ratios, resolve=True) if isinstance(ratios, DictConfig) or \
        OmegaConf.is_list(ratios) else ratios
    lists = t.get("lists")
    lists = OmegaConf.to_container(lists, resolve=True) if lists is not None else None
    report = import_dataset(
        fmt, input_, out,
        split=str(t.get("split", "page")),
        ratios=ratios,
        seed=int(t.get("seed", 42)),
        lists=lists,
        stage=str(t.get("stage", "train")),
        writers=t.get("writers"),
        images=t.get("images"),
        group_pattern=t.get("group_pattern"),
        geometry=str(t.get("geometry", "box")),
        padding=int(t.get("padding", 0)),
        overwrite=bool(t.get("overwrite", False)),
        check_images=bool(t.get("check_images", True)),
        name=t.get("dataset_name"),
    )
    return report.to_dict()  # the summary was logged once by the conversion itself
