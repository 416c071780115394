"""Shared reader of the ICFHR 2018 READ competition's document-specific data.

Used by :mod:`.schwerin`, :mod:`.konzil`, :mod:`.patzig`, :mod:`.ricordi`, :mod:`.schiller`.

Published by: Strauß, Leifert, Labahn, Grüning et al., "ICFHR2018 Competition on Automated Text
Recognition on a READ Dataset" (READ project); the data is on Zenodo (record 1297399 as cited in
the literature — not verifiable from here, so no automatic download). The "specific" part has five
documents, each a folder of line images with their transcriptions and training lists of 1, 4 and
16 pages.

Expected layout (anywhere below ``raw``; layout as the original StackMix-OCR read it):
    specific_data/<collection>_train/<Document>/<line>.jpg
    specific_data/<collection>_train/<Document>/<line>.jpg.txt   (or <line>.txt) transcription
    specific_data/<collection>_train/<Document>/<line>.jpg.info  (last row: the line polygon)
    specific_data_train_list/<collection>_train_1.lst  _4.lst  _16.lst   (<line>.jpg per row)

Split (the original project's, not the competition's test set): valid = the 1-page list,
test = the 4-page list minus the 1-page one, train = the 16-page list minus the 4-page one.

Images: pixels outside the line polygon of the ``.info`` file are painted ``outside_polygon``:
``white`` (default), ``black`` (what the original project did, by multiplying with a mask) or
``keep``. The polygon is read as the integers of the last non-empty row taken as x,y pairs; a
missing or unreadable ``.info`` keeps the image as is.

Normalization: the transcription file stripped (NFC, whitespace collapsed).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_lines, read_text_file,
)


def read_polygon(info: Path) -> np.ndarray | None:
    if not info.is_file():
        return None
    rows = [r for r in read_text_file(info).splitlines() if r.strip()]
    if not rows:
        return None
    nums = [int(float(n)) for n in re.findall(r"-?\d+(?:\.\d+)?", rows[-1])]
    if len(nums) < 6 or len(nums) % 2:
        return None
    return np.asarray(nums, dtype=np.int32).reshape(-1, 2)


def mask_outside(image: np.ndarray, polygon: np.ndarray, fill: int) -> np.ndarray:
    import cv2

    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    cv2.fillPoly(mask, [polygon.reshape(-1, 1, 2)], 255)
    out = image.copy()
    out[mask == 0] = fill
    return out


def iter_document(raw: Path, options: dict, skip: SkipFn, *, collection: str,
                  document: str) -> Iterator[Item]:
    doc_dir = find_one(raw, [f"{collection}_train/{document}"], kind="dir",
                       what=f"READ 2018 document folder specific_data/{collection}_train/{document}")
    lists = {}
    for k in (1, 4, 16):
        name = f"{collection}_train_{k}.lst"
        path = find_one(raw, [f"specific_data_train_list/{name}", name],
                        what=f"READ 2018 training list {name}")
        lists[k] = [r.split()[0] for r in read_lines(path, what=name)]
    one, four = set(lists[1]), set(lists[4])
    order = list(dict.fromkeys(lists[16] + lists[4] + lists[1]))
    fill_mode = options.get("outside_polygon", "white")
    if fill_mode not in ("white", "black", "keep"):
        raise ConversionError(f"outside_polygon must be white, black or keep, got {fill_mode!r}")
    strict = bool(options.get("strict", True))
    from stackmix.data.image import ImageReadError, read_gray

    for entry in order:
        stage = "valid" if entry in one else "test" if entry in four else "train"
        name = entry if Path(entry).suffix.lower() in (".jpg", ".png", ".jpeg") else entry + ".jpg"
        sid = Path(name).stem
        img = doc_dir / name
        txt = next((p for p in (doc_dir / f"{name}.txt", doc_dir / f"{sid}.txt") if p.is_file()), None)
        if txt is None:
            missing(strict, skip, sid, f"missing transcription file {doc_dir / (name + '.txt')}")
            continue
        if not img.is_file():
            missing(strict, skip, sid, f"missing line image {img}")
            continue
        text = read_text_file(txt).strip()
        image: Path | np.ndarray = img
        if fill_mode != "keep":
            poly = read_polygon(doc_dir / f"{name}.info")
            if poly is not None:
                try:
                    gray = read_gray(img)
                except ImageReadError as e:
                    skip(sid, f"unreadable image: {e}")
                    continue
                image = mask_outside(gray, poly, 255 if fill_mode == "white" else 0)
        yield Item(sid, stage, text, image, {"document": document})
