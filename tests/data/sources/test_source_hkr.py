"""HKR from a tiny fake 20200923_Dataset_Words_Public (ann/*.json + img/*.jpg) + HKR_splitting.csv."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.sources import convert
from stackmix.data.sources.common import ConversionError

ANN = {
    "1_28_104": ("ты", "train"),
    "2_51_124": ("язвительным  своим", "val"),
    "6_30_413": ("и ты ушла из дому.", "test1"),
    "13_13_180": ("Шымкент", "test2"),
    "10_13_304": ("ПАВЛОДАР", None),  # not in the split file
}


def make_raw(raw: Path, *, drop_image=None) -> dict:
    root = raw / "20200923_Dataset_Words_Public"
    (root / "ann").mkdir(parents=True)
    (root / "img").mkdir()
    files = {}
    for k, (name, (text, _)) in enumerate(ANN.items()):
        (root / "ann" / f"{name}.json").write_text(json.dumps(
            {"name": name, "description": text, "size": {"width": 60, "height": 20}},
            ensure_ascii=False), encoding="utf-8")
        a = np.random.default_rng(k).integers(0, 256, (20, 60, 3), dtype=np.uint8)
        data = cv2.imencode(".jpg", a)[1].tobytes()
        files[name] = data
        if name != drop_image:
            (root / "img" / f"{name}.jpg").write_bytes(data)
    (raw / "HKR_splitting.csv").write_text(
        "id,stage\n" + "".join(f"{n},{s}\n" for n, (_, s) in ANN.items() if s), encoding="utf-8")
    return files


def test_hkr(tmp_path):
    files = make_raw(tmp_path / "raw")
    report = convert("hkr", tmp_path / "raw", tmp_path / "out")
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = {r["sample_id"]: r for r in csv.DictReader(fh)}
    assert {k: (r["stage"], r["text"], r["subset"]) for k, r in rows.items()} == {
        "1_28_104": ("train", "ты", "train"),
        "2_51_124": ("valid", "язвительным  своим", "val"),
        "6_30_413": ("test", "и ты ушла из дому.", "test1"),
        "13_13_180": ("test", "Шымкент", "test2"),
    }
    for k, r in rows.items():  # the JPEG files are copied byte for byte
        assert (tmp_path / "out" / r["path"]).read_bytes() == files[k]
    assert [(s.item, s.reason) for s in report.skipped] == [("10_13_304", "not in the split file")]


def test_hkr_missing_image_and_split_file(tmp_path):
    make_raw(tmp_path / "raw", drop_image="6_30_413")
    with pytest.raises(ConversionError, match="6_30_413: missing image"):
        convert("hkr", tmp_path / "raw", tmp_path / "out")
    (tmp_path / "raw" / "HKR_splitting.csv").unlink()
    with pytest.raises(ConversionError, match="missing HKR split file HKR_splitting.csv"):
        convert("hkr", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
