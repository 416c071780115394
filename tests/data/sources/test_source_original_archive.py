"""The original StackMix-OCR prepared archives (<name>.tar.gz with <name>/marking.csv)."""
from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.marking import read_marking
from stackmix.data.sources import convert
from stackmix.data.image import read_gray


def make_archive(path: Path, name: str = "saintgall") -> dict:
    images = {}
    rows = "sample_id,path,stage,text\n"
    with tarfile.open(path, "w:gz") as tf:
        for k, stage in enumerate(["train", "train", "valid", "test", "unknown"]):
            sid = f"csg562-003-{k:02d}"
            images[sid] = np.random.default_rng(k).integers(0, 256, (16, 32), dtype=np.uint8)
            data = cv2.imencode(".png", images[sid])[1].tobytes()
            info = tarfile.TarInfo(f"{name}/images/{sid}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            rows += f'{sid},{name}/images/{sid}.png,{stage},"text, {k}"\n'
        info = tarfile.TarInfo(f"{name}/marking.csv")
        info.size = len(rows.encode())
        tf.addfile(info, io.BytesIO(rows.encode()))
    return images


def test_original_archive_paths_are_rewritten(tmp_path):
    images = make_archive(tmp_path / "saintgall.tar.gz")
    report = convert("original_archive", tmp_path / "saintgall.tar.gz", tmp_path / "out",
                     dataset="saintgall", options={"name": "saintgall"})
    marking = read_marking(tmp_path / "out")
    assert [(s.sample_id, s.stage, s.text) for s in marking.samples] == [
        ("csg562-003-00", "train", "text, 0"), ("csg562-003-01", "train", "text, 1"),
        ("csg562-003-02", "valid", "text, 2"), ("csg562-003-03", "test", "text, 3")]
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        assert all(r["path"].startswith("images/") for r in csv.DictReader(fh))
    for s in marking.samples:
        assert np.array_equal(read_gray(s.path), images[s.sample_id])
    assert [(s.item, s.reason) for s in report.skipped] == [
        ("csg562-003-04", "stage 'unknown' is not one of train, valid, test")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "saintgall.tar.gz"]


def test_unsafe_archive_in_raw_writes_nothing(tmp_path):
    from stackmix.data.download import UnsafeArchiveError

    raw = tmp_path / "raw"
    raw.mkdir()
    with tarfile.open(raw / "saintgall.tar.gz", "w:gz") as tf:
        for name in ("saintgall/marking.csv", "../../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
    for src in (raw, raw / "saintgall.tar.gz"):  # a folder holding it, or the archive itself
        with pytest.raises(UnsafeArchiveError, match="escaped.txt"):
            convert("original_archive", src, tmp_path / "out", options={"name": "saintgall"})
        assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
        assert sorted(p.name for p in raw.iterdir()) == ["saintgall.tar.gz"]
    assert not (tmp_path.parent / "escaped.txt").exists()
