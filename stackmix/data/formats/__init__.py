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
SPLITS = ("page", "document", "group", "writer", "list", "none")


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


SIBLING_IMAGE_FOLDERS = ("images", "image", "img", "imgs", "jpg", "jpeg", "png", "tif", "tiff",
                         "pages", "scans")


def find_page_image(xml_path: Path, name: str | None,
                    images: Path | None = None) -> tuple[Path | None, list[Path]]:
    """The page image an XML names, and the folders searched (for the error message).

    ``name`` (the XML's ``fileName`` / ``imageFilename``; else the XML's stem with an image
    extension) is looked for: as given (absolute, or relative to the XML's folder), by its base name
    beside the XML, in ``images`` (and anywhere below it), then in the common sibling folders of
    collections that ship ``alto/`` or ``page/`` next to ``jpg/`` or ``images/``
    (:data:`SIBLING_IMAGE_FOLDERS`, beside the XML's folder and beside its parent).
    """
    from stackmix.data.sources.common import IMAGE_EXTS

    names: list[str] = []
    rel: Path | None = None
    if name:
        name = name.strip().replace("\\", "/")
        if name.startswith("file://"):
            name = name[7:]
        rel = Path(name)
        names.append(rel.name)
    names += [xml_path.stem + e for e in IMAGE_EXTS + tuple(e.upper() for e in IMAGE_EXTS)]
    folders: list[Path] = []
    cands: list[Path] = []
    if rel is not None:
        cands.append(rel if rel.is_absolute() else xml_path.parent / rel)
    folders.append(xml_path.parent)
    if images is not None:
        folders.append(Path(images))
    for base in (xml_path.parent.parent, xml_path.parent.parent.parent):
        folders += [base / d for d in SIBLING_IMAGE_FOLDERS if (base / d).is_dir()]
    for folder in folders:
        cands += [folder / n for n in names]
    for c in cands:
        if c.is_file():
            return c, folders
    if images is not None and Path(images).is_dir():  # nested below images=
        wanted = set(names)
        for c in sorted(Path(images).rglob("*")):
            if c.name in wanted and c.is_file():
                return c, folders
    return None, folders


def missing_image_reason(xml_path: Path, name: str | None, folders: list[Path]) -> str:
    looked = ", ".join(dict.fromkeys(str(f) for f in folders))
    return (f"page image {name or xml_path.stem + '.*'} not found; looked in {looked} "
            "(pass images=<folder holding the page images>)")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file from its header (no decoding)."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


TOLERANCE = 0.02  # geometry may overhang the image by this share of its size


class PageDoesNotFit(ValueError):
    """A page's line geometry does not fit its image: cropping it would give wrong lines."""


def fit_page(xml_path: Path, img_path: Path, declared: tuple[float | None, float | None],
             extents: tuple[float, float, float, float] | None, *,
             always_scale: bool = False) -> tuple[float, float]:
    """Scale factors from the XML's coordinates to the image's pixels, or :class:`PageDoesNotFit`.

    ``declared``: the page size the XML states (ALTO ``Page/@WIDTH/@HEIGHT``, PAGE
    ``Page/@imageWidth/@imageHeight``). When it differs from the image by more than a pixel (or
    ``always_scale``, for non-pixel units), coordinates are scaled by image ÷ declared (logged).
    Then every line (``extents``: min x, min y, max x, max y over the page's lines, in XML units)
    must lie within the image up to :data:`TOLERANCE`; otherwise the whole page is refused.
    """
    w, h = image_size(img_path)
    pw, ph = declared
    sx = sy = 1.0
    if pw and ph and (always_scale or abs(pw - w) > 1 or abs(ph - h) > 1):
        sx, sy = w / pw, h / ph
        if not always_scale:
            log.warning("%s: the XML declares a %g×%g page but %s is %d×%d: coordinates scaled "
                        "by %.3f×%.3f", xml_path.name, pw, ph, img_path.name, w, h, sx, sy)
    if extents is not None:
        x0, y0, x1, y1 = extents[0] * sx, extents[1] * sy, extents[2] * sx, extents[3] * sy
        tx, ty = TOLERANCE * w, TOLERANCE * h
        if x0 < -tx or y0 < -ty or x1 > w + tx or y1 > h + ty:
            stated = f"declares {pw:g}×{ph:g}" if pw and ph else "declares no page size"
            raise PageDoesNotFit(
                f"its lines reach x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f} but the image "
                f"{img_path.name} is {w}×{h} (the XML {stated}): the coordinates do not belong "
                "to this image, so none of the page's lines were imported (fix the XML's "
                "coordinates or page size, or use the image they were made on)"
            )
    return sx, sy


def extents_of(shapes) -> tuple[float, float, float, float] | None:
    """(min x, min y, max x, max y) of boxes ``(x0, y0, x1, y1)``."""
    shapes = [b for b in shapes if b is not None]
    if not shapes:
        return None
    return (min(b[0] for b in shapes), min(b[1] for b in shapes),
            max(b[2] for b in shapes), max(b[3] for b in shapes))


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
    group_pattern: str | None = None,
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
    elif split == "group":
        keyed = []
        for ln, key in zip(lines, group_keys(lines, group_pattern)):
            if key is None:
                skip(ln.sample_id, f"page {ln.page!r} does not match group_pattern "
                                   f"{group_pattern!r}")
                continue
            ln.extra["group"] = key
            keyed.append((ln, key))
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


def group_keys(lines: list[Line], pattern: str | None) -> list[str | None]:
    """The document of each line for ``split=group``: ``pattern`` (a regular expression) searched
    in the page name (the XML or image file's stem); the key is its first group, or the whole match
    when it has none; ``None`` when it does not match."""
    if not pattern:
        raise ConversionError(
            "split=group needs task.group_pattern: a regular expression over page names whose "
            "first group names the document, e.g. "
            r"""'task.group_pattern="^(.+)-\d+$"' (quotes as shown) for letter12-1.xml, """
            "letter12-2.xml")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ConversionError(f"task.group_pattern {pattern!r} is not a valid regular "
                              f"expression: {e}") from None
    out: list[str | None] = []
    for ln in lines:
        m = rx.search(ln.page)
        out.append(None if m is None else (m.group(1) if rx.groups else m.group(0)))
    return out


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
