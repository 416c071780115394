"""Digital Peter — Peter the Great's manuscripts (early 18th-century Russian cursive) → prepared dataset.

Published by: Potanin, Dimitrov, Bataev, Shonenkov et al., "Digital Peter: New Dataset,
Competition and Handwriting Recognition Methods" (HIP 2021, arXiv:2103.09354), prepared with the
St Petersburg Institute of History (RAS), the Federal Archival Agency and RGADA for the AI Journey
2020 contest. Data: github.com/MarkPotanin/DigitalPeter (also ai-forever/htr_datasets) links the
line archive on Google Drive (file id ``1pl-NVBsjD7lgMYdTx6eFVU1s7rZfeeLY``), which
``task.download=true`` fetches (no checksum is published: the SHA-256 is recorded on first
download). 9,694 line images with their texts.

Expected layout (anywhere below ``raw``; the archive unpacks to ``data_anon/`` in the original
project's notebook):
    mapper.csv         columns new_name, old_name, train, public, private
    images/<new_name>  (e.g. 0_1_0.jpg)
    words/<stem>.txt   (e.g. 0_1_0.txt)

Split: the dataset's own columns (its README: "use new_name and the columns train, public,
private for train/val/test"): train → train, public → valid, private → test (6,237 / 1,527 /
1,930 lines in the original project's conversion, which also put the ~40 rows with none of the
three flags into train: ``unassigned: train``; ``skip`` drops and reports them instead).

The original project also turned ~120 vertical images upright with a trained flip classifier;
that model is not part of this converter, the images are copied as published.

Normalization: the text file stripped (NFC, whitespace collapsed). The original project's
training-time mapping of Latin look-alikes to Cyrillic (``o a c e p`` → ``о а с е р``, ``×`` → ``х``,
...) is its config's business, not the converter's.

Alphabet (original project, 65 chars):
`` #()+0123456789[]bdfghilmnrstwабвгдежзийклмнопрстуфхцчшщъыьэюяѣ⊕⊗``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_text_file,
)

_TRUE = {"1", "true", "yes", "t", "1.0"}


def _flag(value) -> bool:
    return str(value or "").strip().lower() in _TRUE


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    mapper = find_one(raw, ["mapper.csv"], what="Digital Peter mapper.csv")
    root = mapper.parent
    img_dir, words_dir = root / "images", root / "words"
    for d in (img_dir, words_dir):
        if not d.is_dir():
            raise ConversionError(f"missing Digital Peter folder {d} (next to mapper.csv)")
    rows = list(csv.DictReader(io.StringIO(read_text_file(mapper), newline="")))
    if not rows or "new_name" not in rows[0]:
        raise ConversionError(f"{mapper}: expected a new_name column (and train, public, private)")
    unassigned = options.get("unassigned", "train")
    strict = bool(options.get("strict", True))
    for row in rows:
        file_name = (row.get("new_name") or "").strip()
        if not file_name:
            continue
        stem = Path(file_name).stem
        if _flag(row.get("train")):
            stage = "train"
        elif _flag(row.get("public")):
            stage = "valid"
        elif _flag(row.get("private")):
            stage = "test"
        elif unassigned == "train":
            stage = "train"
        else:
            skip(stem, "no split flag (train/public/private) in mapper.csv")
            continue
        txt = words_dir / f"{stem}.txt"
        if not txt.is_file():
            missing(strict, skip, stem, f"missing transcription file {txt}")
            continue
        img = img_dir / file_name
        if not img.is_file():
            missing(strict, skip, stem, f"missing line image {img}")
            continue
        yield Item(stem, stage, read_text_file(txt).strip(), img)
