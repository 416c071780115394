"""Importers for users' own data: ALTO, PAGE-XML, folders of ``image`` + ``.gt.txt`` pairs.

Each format module yields :class:`Line` objects (text, a lazy image: a crop or a file, and the
keys a split can use: ``page``, ``document``); :func:`import_dataset` assigns stages and writes
a prepared dataset (marking.csv + images, atomically, with a validation report).

Splits (``split=``):
  * ``group``: like ``document``, the document being named by ``group_pattern``, a regular
    expression over page names (first group, else the whole match): for collections kept in one
    flat folder (``letter12-1.xml``, ``letter12-2.xml`` → ``'^(.+)-\\d+$'``).
  * ``page`` / ``document`` / ``writer``: whole groups go to one stage, groups drawn in a seeded
    random order and given to the stage furthest below its share of lines (``ratios``
    train/valid/test, default 0.8/0.1/0.1) — so no page/document/writer is in two stages.
    ``writer`` needs ``writers``: a CSV ``key,writer`` mapping page or document keys to writers.
  * ``list``: files of keys per stage (``lists: {train: a.txt, valid: b.txt, test: c.txt}``), a
    key being a sample id, a page or a document; lines matched by no list are skipped.
  * ``none``: every line in ``stage`` (e.g. ``test`` for an extra evaluation set).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from stackmix.data.formats.stages import SPLITS, assign_stages
from stackmix.data.sources.common import ConversionError, DatasetBuilder, Item, Report, SkipFn
from stackmix.text import Normalizer

log = logging.getLogger(__name__)

FORMATS = ("alto", "pagexml", "gt_txt")


@dataclass
class Line:
    sample_id: str
    text: str
    load: Callable[[], "np.ndarray | Path"]
    page: str
    document: str
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------- entry point
def iter_lines(fmt: str, input: str | os.PathLike, *, geometry: str = "box", padding: int = 0,
               images: str | os.PathLike | None = None, skip: SkipFn) -> Iterator[Line]:
    if fmt not in FORMATS:
        raise ConversionError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if geometry not in ("box", "polygon"):
        raise ConversionError(f"geometry must be box or polygon, got {geometry!r}")
    import importlib

    mod = importlib.import_module(f"stackmix.data.formats.{fmt}")
    kw = {}
    if images is not None:
        images = Path(images).expanduser().resolve()
        if not images.is_dir():
            raise ConversionError(f"images={images} is not a folder")
        if fmt == "gt_txt":
            raise ConversionError("images= is for ALTO/PAGE pages; gt_txt images lie beside "
                                  "their .gt.txt files")
        kw["images"] = images
    yield from mod.iter_lines(Path(input).expanduser().resolve(), geometry=geometry,
                              padding=int(padding), skip=skip, **kw)


def import_dataset(
    fmt: str,
    input: str | os.PathLike,
    out: str | os.PathLike,
    *,
    split: str = "page",
    ratios=None,
    seed: int = 42,
    lists: dict | None = None,
    stage: str = "train",
    writers: str | os.PathLike | None = None,
    geometry: str = "box",
    padding: int = 0,
    images: str | os.PathLike | None = None,
    group_pattern: str | None = None,
    overwrite: bool = False,
    name: str | None = None,
    check_images: bool = True,
    normalizer: Normalizer | None = None,
    config_alphabet: str | None = None,
) -> Report:
    """Import ``input`` (``fmt``: alto | pagexml | gt_txt) into the prepared dataset ``out``."""
    out = Path(out).expanduser().resolve()
    with DatasetBuilder(out, dataset=name or out.name, overwrite=overwrite,
                        check_images=check_images, normalizer=normalizer,
                        config_alphabet=config_alphabet) as builder:
        lines = list(iter_lines(fmt, input, geometry=geometry, padding=padding, images=images,
                                skip=builder.skip))
        if not lines:
            raise ConversionError(f"no text line found in {input} ({fmt}); skipped: "
                                  + "; ".join(str(s) for s in builder.skipped[:5]))
        for ln, st in assign_stages(lines, split=split, ratios=ratios, seed=seed, lists=lists,
                                    stage=stage, writers=writers, group_pattern=group_pattern,
                                    skip=builder.skip):
            try:
                image = ln.load()
            except (ValueError, OSError) as e:
                builder.skip(ln.sample_id, f"cannot crop the line: {e}")
                continue
            extra = {"page": ln.page, "document": ln.document, **ln.extra}
            builder.add(Item(ln.sample_id, st, ln.text, image, extra))
        report = builder.commit()
    log.info("%s", report.summary())
    return report


__all__ = ["FORMATS", "SPLITS", "Line", "assign_stages", "import_dataset", "iter_lines"]
