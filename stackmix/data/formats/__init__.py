"""Importers for users' own data: ALTO, PAGE-XML, folders of ``image`` + ``.gt.txt`` pairs.

Each format module yields :class:`Line` objects (text, a lazy image: a crop or a file, and the
keys a split can use: ``page``, ``document``); :func:`import_dataset` assigns stages and writes
a prepared dataset (marking.csv + images, atomically, with a validation report).

Splits (``split=``):
  * ``page`` / ``document`` / ``writer``: whole groups go to one stage, groups drawn in a seeded
    random order and given to the stage furthest below its share of lines (``ratios``
    train/valid/test, default 0.8/0.1/0.1) — so no page/document/writer is in two stages.
    ``writer`` needs ``writers``: a CSV ``key,writer`` mapping page or document keys to writers.
  * ``list``: files of keys per stage (``lists: {train: a.txt, valid: b.txt, test: c.txt}``), a
    key being a sample id, a page or a document; lines matched by no list are skipped.
  * ``none``: every line in ``stage`` (e.g. ``test`` for an extra evaluation set).
"""
from __future__ import annotations

import csv
import io
import logging
import os
import random
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from stackmix.data.marking import STAGES
from stackmix.data.sources.common import (
    ConversionError, DatasetBuilder, Item, Report, SkipFn, read_lines, read_text_file,
)
from stackmix.text import Normalizer

log = logging.getLogger(__name__)

FORMATS = ("alto", "pagexml", "gt_txt")
SPLITS = ("page", "document", "writer", "list", "none")


@dataclass
class Line:
    sample_id: str
    text: str
    load: Callable[[], "np.ndarray | Path"]
    page: str
    document: str
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------- XML helpers
def local(tag: str) -> str:
    """Tag name without its namespace (``{ns}TextLine`` → ``TextLine``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(el, name: str):
    return [c for c in el if local(c.tag) == name]


def first_child(el, name: str):
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def parse_points(value: str | None) -> np.ndarray | None:
    """``"x1 y1 x2 y2"`` / ``"x1,y1 x2,y2"`` → (N, 2) float array, ``None`` if fewer than 2 points."""
    if not value:
        return None
    nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", value)]
    if len(nums) < 4 or len(nums) % 2:
        return None
    return np.asarray(nums, dtype=np.float64).reshape(-1, 2)


def parse_xml(path: Path):
    import xml.etree.ElementTree as ET

    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ConversionError(f"{path}: not well-formed XML ({e})") from None


def find_page_image(xml_path: Path, name: str | None) -> Path | None:
    """The page image named in the XML (relative to the XML's folder), else one with its stem."""
    from stackmix.data.sources.common import IMAGE_EXTS

    cands = []
    if name:
        name = name.strip().replace("\\", "/")
        if name.startswith("file://"):
            name = name[7:]
        p = Path(name)
        cands += [p] if p.is_absolute() else [xml_path.parent / p]
        cands.append(xml_path.parent / p.name)
    for ext in IMAGE_EXTS + tuple(e.upper() for e in IMAGE_EXTS):
        cands.append(xml_path.with_suffix(ext))
    for c in cands:
        if c.is_file():
            return c
    return None


class PageCache:
    """Keeps the last decoded page image (lines come page by page)."""

    def __init__(self):
        self.path: Path | None = None
        self.image: np.ndarray | None = None

    def get(self, path: Path) -> np.ndarray:
        if self.path != path:
            from stackmix.data.image import read_gray

            self.image = read_gray(path)
            self.path = path
        return self.image


def crop_region(page: np.ndarray, box: tuple[float, float, float, float],
                polygon: np.ndarray | None, padding: int) -> np.ndarray:
    """Crop ``box`` (x0, y0, x1, y1 in page pixels) plus ``padding``; with ``polygon``, pixels
    outside it become white. Raises ``ValueError`` for an empty region."""
    import cv2

    h, w = page.shape[:2]
    x0 = max(0, int(np.floor(box[0])) - padding)
    y0 = max(0, int(np.floor(box[1])) - padding)
    x1 = min(w, int(np.ceil(box[2])) + padding)
    y1 = min(h, int(np.ceil(box[3])) + padding)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"the region {tuple(round(v) for v in box)} lies outside the "
                         f"{w}×{h} page image or is empty")
    crop = page[y0:y1, x0:x1].copy()
    if polygon is not None:
        mask = np.zeros(crop.shape[:2], dtype=np.uint8)
        pts = np.round(polygon - [x0, y0]).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(mask, [pts], 255)
        if padding:
            k = 2 * padding + 1
            mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
        crop[mask == 0] = 255
    return crop


def bbox(points: np.ndarray) -> tuple[float, float, float, float]:
    return (float(points[:, 0].min()), float(points[:, 1].min()),
            float(points[:, 0].max()), float(points[:, 1].max()))


def xml_files(input: Path) -> list[Path]:
    if input.is_file():
        return [input]
    if not input.is_dir():
        raise ConversionError(f"input {input} does not exist")
    files = sorted(p for p in input.rglob("*.xml") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ConversionError(f"no .xml file under {input}")
    return files


def document_key(path: Path, input: Path) -> str:
    base = input if input.is_dir() else input.parent
    rel = path.parent.relative_to(base).as_posix() if path.parent != base else ""
    return rel or base.name


# ---------------------------------------------------------------------------------- splitting
def _read_writers(path: str | os.PathLike) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise ConversionError(f"writers file {p} does not exist")
    rows = list(csv.reader(io.StringIO(read_text_file(p), newline="")))
    out = {}
    for i, r in enumerate(rows):
        if len(r) < 2 or (i == 0 and r[1].strip().lower() == "writer"):
            continue
        out[r[0].strip()] = r[1].strip()
    return out


def assign_stages(
    lines: list[Line],
    *,
    split: str = "page",
    ratios: dict | list | tuple | None = None,
    seed: int = 42,
    lists: dict | None = None,
    stage: str = "train",
    writers: str | os.PathLike | None = None,
    skip: SkipFn,
) -> list[tuple[Line, str]]:
    """Give every line a stage according to ``split`` (see the module docstring)."""
    if split not in SPLITS:
        raise ConversionError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    if split == "none":
        if stage not in STAGES:
            raise ConversionError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        return [(ln, stage) for ln in lines]
    if split == "list":
        lookup: dict[str, str] = {}
        for st, path in (lists or {}).items():
            if not path:
                continue
            if st not in STAGES:
                raise ConversionError(f"lists: unknown stage {st!r}")
            for key in read_lines(Path(path), what=f"{st} split list"):
                lookup.setdefault(key.split()[0] if key.split() else key, st)
        if not lookup:
            raise ConversionError("split=list needs lists: {train: file, valid: file, test: file}")
        out = []
        for ln in lines:
            st = lookup.get(ln.sample_id) or lookup.get(ln.page) or lookup.get(ln.document)
            if st is None:
                skip(ln.sample_id, "not in any split list")
                continue
            out.append((ln, st))
        return out

    # group splits
    r = _ratios(ratios)
    if split == "writer":
        mapping = _read_writers(writers) if writers else {}
        keyed = []
        for ln in lines:
            w = ln.extra.get("writer") or mapping.get(ln.page) or mapping.get(ln.document)
            if not w:
                skip(ln.sample_id, f"no writer known for page {ln.page!r} / document {ln.document!r}"
                                   " (writers file)")
                continue
            ln.extra["writer"] = w
            keyed.append((ln, w))
    else:
        keyed = [(ln, ln.page if split == "page" else ln.document) for ln in lines]
    sizes: "OrderedDict[str, int]" = OrderedDict()
    for _, k in keyed:
        sizes[k] = sizes.get(k, 0) + 1
    keys = sorted(sizes)
    random.Random(seed).shuffle(keys)
    total = sum(sizes.values())
    target = {st: r[st] * total for st in STAGES}
    have = {st: 0 for st in STAGES}
    stage_of: dict[str, str] = {}
    for k in keys:
        st = max(STAGES, key=lambda s: (target[s] - have[s], -STAGES.index(s)))
        if target[st] <= 0:
            st = "train"
        stage_of[k] = st
        have[st] += sizes[k]
    empty = [st for st in STAGES if r[st] > 0 and have[st] == 0]
    if empty:
        log.warning("split by %s: only %d group(s); stage(s) %s got no line", split, len(keys),
                    ", ".join(empty))
    return [(ln, stage_of[k]) for ln, k in keyed]


def _ratios(ratios) -> dict[str, float]:
    if ratios is None:
        ratios = {"train": 0.8, "valid": 0.1, "test": 0.1}
    if isinstance(ratios, (list, tuple)):
        if len(ratios) != 3:
            raise ConversionError(f"ratios needs 3 numbers (train, valid, test), got {ratios!r}")
        ratios = dict(zip(STAGES, ratios))
    r = {st: float(ratios.get(st, 0) or 0) for st in STAGES}
    if any(v < 0 for v in r.values()) or sum(r.values()) <= 0:
        raise ConversionError(f"ratios must be non-negative and not all zero, got {r}")
    s = sum(r.values())
    return {k: v / s for k, v in r.items()}


# ---------------------------------------------------------------------------------- entry point
def iter_lines(fmt: str, input: str | os.PathLike, *, geometry: str = "box", padding: int = 0,
               skip: SkipFn) -> Iterator[Line]:
    if fmt not in FORMATS:
        raise ConversionError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if geometry not in ("box", "polygon"):
        raise ConversionError(f"geometry must be box or polygon, got {geometry!r}")
    import importlib

    mod = importlib.import_module(f"stackmix.data.formats.{fmt}")
    yield from mod.iter_lines(Path(input).expanduser().resolve(), geometry=geometry,
                              padding=int(padding), skip=skip)


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
        lines = list(iter_lines(fmt, input, geometry=geometry, padding=padding, skip=builder.skip))
        if not lines:
            raise ConversionError(f"no text line found in {input} ({fmt}); skipped: "
                                  + "; ".join(str(s) for s in builder.skipped[:5]))
        for ln, st in assign_stages(lines, split=split, ratios=ratios, seed=seed, lists=lists,
                                    stage=stage, writers=writers, skip=builder.skip):
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
