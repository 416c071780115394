"""Saint Gall from a tiny fake saintgalldb-v1.0 in the official layout."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.sources import convert
from stackmix.data.sources.common import ConversionError
from stackmix.data.image import read_gray

ROWS = [
    ("csg562-003-01", "i-n|u-n-i-t-a-t-e|pt|s-p-i-r-i-t-u-s", "in|unitate|spiritus"),
    ("csg562-003-02", "D-e-u-s|et|o-m-n-i-a-pt", "deus|et|omnia"),
    ("csg562-004-01", "s-e-c-u-l-a", "secula"),
    ("csg562-005-01", "a-m-e-n", "amen"),
    ("csg562-009-01", "n-o-n", "non"),
]


def make_raw(raw: Path, *, drop=None) -> dict:
    root = raw / "saintgalldb-v1.0"
    (root / "ground_truth").mkdir(parents=True)
    (root / "sets").mkdir()
    (root / "data" / "line_images_normalized").mkdir(parents=True)
    if drop != "transcription":
        (root / "ground_truth" / "transcription.txt").write_text(
            "".join(f"{i} {s} {l}\n" for i, s, l in ROWS))
    (root / "sets" / "train.txt").write_text("csg562-003\n")
    (root / "sets" / "valid.txt").write_text("csg562-004\n")
    (root / "sets" / "test.txt").write_text("csg562-005\n")
    images = {}
    for k, (lid, _, _) in enumerate(ROWS):
        images[lid] = np.random.default_rng(k).integers(0, 256, (20, 50), dtype=np.uint8)
        cv2.imwrite(str(root / "data" / "line_images_normalized" / f"{lid}.png"), images[lid])
    return images


def test_saintgall(tmp_path):
    images = make_raw(tmp_path / "raw")
    report = convert("saintgall", tmp_path / "raw", tmp_path / "out",
                     options={"special_letters": {"pt": ".", "et": "&"}})
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sample_id"], r["stage"], r["text"], r["page"]) for r in rows] == [
        ("csg562-003-01", "train", "in unitate . spiritus", "csg562-003"),
        ("csg562-003-02", "train", "Deus & omnia.", "csg562-003"),
        ("csg562-004-01", "valid", "secula", "csg562-004"),
        ("csg562-005-01", "test", "amen", "csg562-005"),
    ]
    for r in rows:
        assert np.array_equal(read_gray(tmp_path / "out" / r["path"]), images[r["sample_id"]])
    assert [(s.item, s.reason) for s in report.skipped] == [
        ("csg562-009-01", "page csg562-009 is in no set file")]
    assert report.alphabet == " &.Daeimnoprstu"


def test_saintgall_original_spelling(tmp_path):
    make_raw(tmp_path / "raw")
    convert("saintgall", tmp_path / "raw", tmp_path / "out",
            options={"special_letters": {"pt": "pt", "et": "et"}})
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        assert next(csv.DictReader(fh))["text"] == "in unitate pt spiritus"


def test_saintgall_missing_transcription_file(tmp_path):
    make_raw(tmp_path / "raw", drop="transcription")
    with pytest.raises(ConversionError, match="missing Saint Gall transcription file"):
        convert("saintgall", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
