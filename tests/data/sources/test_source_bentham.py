"""Bentham (ICFHR 2014 HTRtS) from a tiny fake BenthamDatasetR0-GT.tbz in the official layout."""
from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.sources import convert
from stackmix.data.sources.bentham import join_punctuation
from stackmix.data.sources.common import ConversionError
from stackmix.data.image import read_gray

ROOT = "BenthamDatasetR0-GT"
TEXTS = {
    "002_080_001_01_01": "6 . The evidence of the engagement , consigned\n",
    "002_080_001_01_02": "to a portable ( small ) box &amp; the r\xe9sum\xe9 &quot;x&quot;",
    "002_080_001_02_01": "the <gap/> return of such Offender\n",
    "002_080_001_02_02": "<gap/>",
    "071_017_003_01_01": "caf\xe9 \u22a5 Majesty shall direct",
}
PARTS = {"TrainLines.lst": ["002_080_001_01_01", "002_080_001_01_02", "002_080_001_02_02",
                            "071_017_003_01_01"],
         "ValidationLines.lst": ["002_080_001_02_01"],
         "TestLines.lst": []}
OPTS = {"join_punctuation": True, "train_replace": {"é": "e", "⊥": ""}}


def make_tbz(path: Path, *, drop_transcription=None) -> dict:
    images = {}
    with tarfile.open(path, "w:bz2") as tf:
        def add(name, data):
            info = tarfile.TarInfo(f"{ROOT}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for k, (lid, text) in enumerate(TEXTS.items()):
            images[lid] = np.random.default_rng(k).integers(0, 256, (30, 90), dtype=np.uint8)
            add(f"Images/Lines/{lid}.png", cv2.imencode(".png", images[lid])[1].tobytes())
            if lid != drop_transcription:
                add(f"Transcriptions/{lid}.txt", text.encode("utf-8"))
        for name, ids in PARTS.items():
            add(f"Partitions/{name}", ("\n".join(ids) + "\n").encode())
    return images


def test_bentham(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    images = make_tbz(raw / "BenthamDatasetR0-GT.tbz")
    report = convert("bentham", raw, tmp_path / "out", options=OPTS)
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sample_id"], r["stage"], r["text"]) for r in rows] == [
        ("002_080_001_01_01", "train", "6. The evidence of the engagement, consigned"),
        ("002_080_001_01_02", "train", 'to a portable (small) box & the resume "x"'),
        ("071_017_003_01_01", "train", "cafe Majesty shall direct"),
        ("002_080_001_02_01", "valid", "the return of such Offender"),
    ]
    for r in rows:
        assert np.array_equal(read_gray(tmp_path / "out" / r["path"]), images[r["sample_id"]])
    assert [(s.item, s.reason) for s in report.skipped] == [("002_080_001_02_02", "empty transcription")]
    assert report.counts == {"train": 3, "valid": 1, "test": 0}


def test_bentham_valid_keeps_accents(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_tbz(raw / "b.tbz")
    # the accent folding is for train only, as in the original project
    parts = raw / "b" / ROOT / "Partitions"
    convert("bentham", raw, tmp_path / "o1", options=OPTS)  # unpacks
    (parts / "TrainLines.lst").write_text("002_080_001_01_01\n")
    (parts / "ValidationLines.lst").write_text("071_017_003_01_01\n")
    convert("bentham", raw, tmp_path / "o2", options=OPTS)
    with open(tmp_path / "o2" / "marking.csv", encoding="utf-8") as fh:
        rows = {r["sample_id"]: r["text"] for r in csv.DictReader(fh)}
    assert rows["071_017_003_01_01"] == "caf\xe9 \u22a5 Majesty shall direct"


def test_bentham_missing_transcription_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    make_tbz(raw / "b.tbz", drop_transcription="071_017_003_01_01")
    with pytest.raises(ConversionError, match=r"071_017_003_01_01: missing transcription file .*071_017_003_01_01\.txt"):
        convert("bentham", raw, tmp_path / "out", options=OPTS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
    report = convert("bentham", raw, tmp_path / "out", options={**OPTS, "strict": False})
    assert "071_017_003_01_01" in {s.item for s in report.skipped}


def test_join_punctuation():
    assert join_punctuation("a , b . ( c ) [ d ] \" e") == 'a, b. (c) [d] "e'
