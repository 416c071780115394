"""Folders of line images with ``<name>.gt.txt`` transcriptions (kraken / OCRopus convention).

Input: a folder searched recursively (sorted paths). A line is an image ``<name>.<ext>`` (png,
jpg, tif, bmp, ...; OCRopus' ``<name>.bin.png`` / ``.nrm.png`` also match ``<name>.gt.txt``) with
``<name>.gt.txt`` beside it. The text file is read as UTF-8 (its lines joined by spaces). An image
without ``.gt.txt``, a ``.gt.txt`` without image, or a second image for the same ``.gt.txt`` is
skipped and reported. The image file is copied as is. Keys for splitting: ``page`` = the image
path without extension, ``document`` = its folder (relative to the input). Sample ids are the
relative path without extension, ``/`` replaced by ``_``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from stackmix.data.formats import Line
from stackmix.data.sources.common import IMAGE_EXTS, ConversionError, SkipFn, read_text_file


def _base(path: Path) -> Path:
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    for sub in (".bin", ".nrm"):
        if stem.lower().endswith(sub):
            stem = stem[: -len(sub)]
    return path.with_name(stem)


def iter_lines(input: Path, *, geometry: str = "box", padding: int = 0,
               skip: SkipFn) -> Iterator[Line]:
    if not input.is_dir():
        raise ConversionError(f"input {input} is not a folder of images with .gt.txt files")
    files = sorted(p for p in input.rglob("*") if p.is_file() and not p.name.startswith("."))
    used: dict[Path, Path] = {}
    gts = {p for p in files if p.name.endswith(".gt.txt")}
    for img in files:
        if img.suffix.lower() not in IMAGE_EXTS:
            continue
        base = _base(img)
        gt = base.with_name(base.name + ".gt.txt")
        rel = base.relative_to(input).as_posix()
        sid = rel.replace("/", "_")
        if gt not in gts:
            skip(sid, f"no transcription: {gt.name} is missing next to {img.name}")
            continue
        if gt in used:
            skip(sid, f"{img.name}: {gt.name} already belongs to {used[gt].name}")
            continue
        used[gt] = img
        text = " ".join(read_text_file(gt).split())
        folder = img.parent.relative_to(input).as_posix()
        yield Line(sid, text, (lambda p=img: p), rel, folder if folder != "." else input.name,
                   {"file": img.relative_to(input).as_posix()})
    for gt in sorted(gts - set(used)):
        skip(gt.relative_to(input).as_posix(), "transcription without an image")
