"""George Washington from a tiny fake washingtondb-v1.0 (zip) in the official layout."""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import cv2
import numpy as np

from stackmix.data.sources import convert
from stackmix.data.sources.washington import DEFAULT_CODES, decode
from stackmix.data.image import read_gray

ROWS = [
    ("270-01", "1-7-7-5-s_pt-|-L-e-t-t-e-r-s-|-O-r-d-e-r-s-s_cm"),
    ("270-02", "s_GW-|-s_qt-t-i-s-|-s_bl-s_1-s_0-s_br-|-s_lb-s_5-s_qo-|-s_etc"),
    ("271-01", "W-a-s-h-i-n-g-t-o-n-s_mi-s_s"),
    ("272-01", "B-o-s-t-o-n"),
    ("273-01", "s_xx-|-b-a-d"),
]


def make_zip(path: Path) -> dict:
    images = {}
    with zipfile.ZipFile(path, "w") as zf:
        root = "washingtondb-v1.0"
        zf.writestr(f"{root}/ground_truth/transcription.txt",
                    "".join(f"{i} {t}\n" for i, t in ROWS))
        zf.writestr(f"{root}/sets/cv1/train.txt", "270-01\n270-02\n273-01\n")
        zf.writestr(f"{root}/sets/cv1/valid.txt", "271-01\n")
        zf.writestr(f"{root}/sets/cv1/test.txt", "272-01\n")
        zf.writestr(f"{root}/sets/cv2/train.txt", "272-01\n")
        zf.writestr(f"{root}/sets/cv2/valid.txt", "270-01\n")
        zf.writestr(f"{root}/sets/cv2/test.txt", "271-01\n")
        for k, (lid, _) in enumerate(ROWS):
            images[lid] = np.random.default_rng(k).integers(0, 256, (18, 40), dtype=np.uint8)
            zf.writestr(f"{root}/data/line_images_normalized/{lid}.png",
                        cv2.imencode(".png", images[lid])[1].tobytes())
    return images


def test_washington(tmp_path):
    (tmp_path / "raw").mkdir()
    images = make_zip(tmp_path / "raw" / "washingtondb-v1.0.zip")
    report = convert("washington", tmp_path / "raw", tmp_path / "out", options={"cv": "cv1"})
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sample_id"], r["stage"], r["text"]) for r in rows] == [
        ("270-01", "train", "1775. Letters Orders,"),
        ("270-02", "train", "G.W. 'tis (10) £5: etc"),
        ("271-01", "valid", "Washington-s"),
        ("272-01", "test", "Boston"),
    ]
    for r in rows:
        assert np.array_equal(read_gray(tmp_path / "out" / r["path"]), images[r["sample_id"]])
    assert [(s.item, s.reason) for s in report.skipped] == [
        ("273-01", "cannot decode the transcription: unknown code 's_xx'")]


def test_washington_other_fold(tmp_path):
    (tmp_path / "raw").mkdir()
    make_zip(tmp_path / "raw" / "w.zip")
    report = convert("washington", tmp_path / "raw", tmp_path / "out", options={"cv": "cv2"})
    assert report.counts == {"train": 1, "valid": 1, "test": 1}


def test_decode_words_without_hyphen_around_separator():
    assert decode("a-b|c-s_pt", DEFAULT_CODES) == "ab c."
