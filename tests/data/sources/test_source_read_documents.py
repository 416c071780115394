"""The five ICFHR 2018 READ documents (schwerin, konzil, patzig, ricordi, schiller) from tiny fakes."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.sources import convert, get_converter
from stackmix.data.sources.common import ConversionError
from stackmix.data.image import read_gray

DOCS = ["schwerin", "konzil", "patzig", "ricordi", "schiller"]
NAMES = [f"p{p}_line_{i}" for p in range(4) for i in range(2)]  # 4 pages × 2 lines


def make_raw(raw: Path, coll: str, doc: str, *, drop_text=None) -> dict:
    d = raw / "specific_data" / f"{coll}_train" / doc
    d.mkdir(parents=True)
    lists = raw / "specific_data_train_list"
    lists.mkdir(parents=True)
    images = {}
    for k, n in enumerate(NAMES):
        a = np.random.default_rng(k).integers(0, 200, (20, 40), dtype=np.uint8)
        images[n] = a
        cv2.imwrite(str(d / f"{n}.jpg"), a, [cv2.IMWRITE_JPEG_QUALITY, 100])
        images[n] = read_gray(d / f"{n}.jpg")  # what the JPEG decodes to
        if n != drop_text:
            (d / f"{n}.jpg.txt").write_text(f"Zeile {k}\n", encoding="utf-8")
        # polygon: the left half of the line
        (d / f"{n}.jpg.info").write_text("some header\n[[0,0];[19,0];[19,19];[0,19]]\n")
    one, four = NAMES[:2], NAMES[:4]
    (lists / f"{coll}_train_1.lst").write_text("".join(f"{n}.jpg\n" for n in one))
    (lists / f"{coll}_train_4.lst").write_text("".join(f"{n}.jpg\n" for n in four))
    (lists / f"{coll}_train_16.lst").write_text("".join(f"{n}.jpg\n" for n in NAMES))
    return images


@pytest.mark.parametrize("name", DOCS)
def test_read_document(tmp_path, name):
    mod = get_converter(name)
    images = make_raw(tmp_path / "raw", mod.COLLECTION, mod.DOCUMENT)
    report = convert(name, tmp_path / "raw", tmp_path / "out")
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = {r["sample_id"]: r for r in csv.DictReader(fh)}
    assert {k: r["stage"] for k, r in rows.items()} == {
        **{n: "train" for n in NAMES[4:]}, **{n: "test" for n in NAMES[2:4]},
        **{n: "valid" for n in NAMES[:2]}}
    assert rows[NAMES[3]]["text"] == "Zeile 3" and rows[NAMES[3]]["document"] == mod.DOCUMENT
    crop = read_gray(tmp_path / "out" / rows[NAMES[5]]["path"])
    src = images[NAMES[5]]
    assert np.array_equal(crop[:, :20], src[:, :20])       # inside the polygon: unchanged
    assert (crop[:, 21:] == 255).all()                     # outside: white
    assert report.counts == {"train": 4, "valid": 2, "test": 2}


def test_read_black_and_keep(tmp_path):
    mod = get_converter("ricordi")
    images = make_raw(tmp_path / "raw", mod.COLLECTION, mod.DOCUMENT)
    convert("ricordi", tmp_path / "raw", tmp_path / "b", options={"outside_polygon": "black"})
    convert("ricordi", tmp_path / "raw", tmp_path / "k", options={"outside_polygon": "keep"})
    with open(tmp_path / "b" / "marking.csv", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert (read_gray(tmp_path / "b" / row["path"])[:, 21:] == 0).all()
    with open(tmp_path / "k" / "marking.csv", encoding="utf-8") as fh:
        kept = next(csv.DictReader(fh))
    assert kept["path"].endswith(".jpg")  # copied as published
    assert np.array_equal(read_gray(tmp_path / "k" / kept["path"]), images[kept["sample_id"]])


def test_read_missing_transcription_file(tmp_path):
    mod = get_converter("schiller")
    make_raw(tmp_path / "raw", mod.COLLECTION, mod.DOCUMENT, drop_text=NAMES[6])
    with pytest.raises(ConversionError, match=f"{NAMES[6]}: missing transcription file"):
        convert("schiller", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
