"""HKR — Handwritten Kazakh and Russian database → prepared dataset.

Published by: Nurseitov, Bostanbekov, Kurmankhojayev et al., "Handwritten Kazakh and Russian
(HKR) database for text recognition", Multimedia Tools and Applications (2021);
https://github.com/abdoelsayed2016/HKR_Dataset. Non-commercial research only: the data is
shared after an **application form** sent to the authors (the README links a cloud.mail.ru
folder), so it is not downloaded automatically.

What to download: the words/lines archive (``20200923_Dataset_Words_Public``) and the split file
``HKR_splitting.csv`` of github.com/bosskairat/Dataset (public: ``task.download=true`` fetches it
from that repository at a pinned commit; its SHA-256 is recorded on first download).

Expected layout (anywhere below ``raw``):
    20200923_Dataset_Words_Public/ann/<name>.json   ({"name": ..., "description": <text>, ...})
    20200923_Dataset_Words_Public/img/<name>.jpg
    HKR_splitting.csv                                (id,stage with stage train|val|test1|test2)

Split: the authors' split file: train → train, val → valid, test1 (unseen words) + test2 (seen
words, other writers) → test, as the original StackMix-OCR (45,559 / 9,375 / 10,009 images);
the test subset is kept in the ``subset`` column. Annotations missing from the split file are
skipped and reported.

Normalization: the ``description`` field as is (NFC, whitespace collapsed).

Alphabet (original project, 84 chars):
`` !(),-.:;?HoАБВГДЕЖЗИЙКЛМНОПРСТУФХЧШЩЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюяёғҚқҮӨө–—…``.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import (
    IMAGE_EXTS, ConversionError, Item, SkipFn, find_one, missing, read_text_file,
)

STAGE_MAP = {"train": "train", "val": "valid", "valid": "valid", "test1": "test", "test2": "test",
             "test": "test"}


def read_split(path: Path) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(read_text_file(path), newline=""))
    if not rows.fieldnames or "id" not in rows.fieldnames or "stage" not in rows.fieldnames:
        raise ConversionError(f"{path}: expected the columns id,stage (HKR_splitting.csv)")
    return {r["id"].strip(): r["stage"].strip() for r in rows if r.get("id")}


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    ann_dir = find_one(raw, ["ann"], kind="dir", what="HKR annotation folder ann/")
    root = ann_dir.parent
    img_dir = root / "img"
    if not img_dir.is_dir():
        raise ConversionError(f"missing HKR image folder {img_dir}")
    split_name = options.get("split_file") or "HKR_splitting.csv"
    split_path = Path(split_name) if Path(split_name).is_absolute() else find_one(
        raw, [split_name], what=f"HKR split file {split_name} (github.com/bosskairat/Dataset)")
    split = read_split(split_path)
    strict = bool(options.get("strict", True))
    for ann in sorted(ann_dir.glob("*.json")):
        try:
            data = json.loads(read_text_file(ann))
        except ValueError as e:
            skip(ann.stem, f"unreadable annotation {ann.name}: {e}")
            continue
        name = str(data.get("name") or ann.stem)
        text = data.get("description")
        if not isinstance(text, str):
            skip(name, f"{ann.name} has no description (transcription) field")
            continue
        sub = split.get(name)
        if sub is None:
            skip(name, "not in the split file")
            continue
        stage = STAGE_MAP.get(sub)
        if stage is None:
            skip(name, f"unknown stage {sub!r} in the split file")
            continue
        img = next((img_dir / f"{name}{e}" for e in IMAGE_EXTS if (img_dir / f"{name}{e}").is_file()),
                   None)
        if img is None:
            missing(strict, skip, name, f"missing image {img_dir / (name + '.jpg')}")
            continue
        yield Item(name, stage, text, img, {"subset": sub})
