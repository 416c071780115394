"""IAM (and IAM-B) from a tiny fake download in the official layout: ascii.tgz, lines.tgz, task zip."""
from __future__ import annotations

import csv
import io
import json
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.download import ArchiveError
from stackmix.data.sources import convert
from stackmix.data.sources.common import ConversionError
from stackmix.data.image import read_gray

LINES = [
    # id, status, words
    ("a01-000u-00", "ok", "A|MOVE|to|stop|Mr.|Gaitskell"),
    ("a01-000u-01", "err", "he|said|,|&quot;they|were&quot;"),
    ("b02-010-00", "ok", "nominating|any|more"),
    ("c03-020-00", "ok", "is|to|be|made"),
    ("d04-030-00", "ok", "at|a|meeting"),
    ("e05-040-00", "ok", "Labour|M|Ps"),
]
FORMS = {"a01-000u": "000", "b02-010": "001", "c03-020": "002", "d04-030": "003", "e05-040": "004"}


def img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (24, 70 + seed), dtype=np.uint8)


def png_bytes(a: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", a)
    assert ok
    return buf.tobytes()


def add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def make_raw(raw: Path, *, truncate_lines_tgz=False, bad_image=None) -> dict[str, np.ndarray]:
    raw.mkdir(parents=True)
    lines_txt = "#--- lines.txt ---\n# format: a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE\n"
    lines_txt += "".join(f"{i} {s} 154 8 10 20 300 40 {w}\n" for i, s, w in LINES)
    forms_txt = "# forms\n" + "".join(f"{f} {w} 2 prt 7 5 52 36\n" for f, w in FORMS.items())
    with tarfile.open(raw / "ascii.tgz", "w:gz") as tf:
        add(tf, "lines.txt", lines_txt.encode())
        add(tf, "forms.txt", forms_txt.encode())
    images = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for k, (lid, _, _) in enumerate(LINES):
            a, b, _ = lid.split("-")
            images[lid] = img(k)
            data = png_bytes(images[lid])
            if lid == bad_image:
                data = data[: len(data) // 3]
            add(tf, f"{a}/{a}-{b}/{lid}.png", data)
    data = buf.getvalue()
    (raw / "lines.tgz").write_bytes(data[: len(data) // 2] if truncate_lines_tgz else data)
    with zipfile.ZipFile(raw / "largeWriterIndependentTextLineRecognitionTask.zip", "w") as zf:
        zf.writestr("trainset.txt", "a01-000u-00\na01-000u-01\n")
        zf.writestr("validationset1.txt", "b02-010-00\n")
        zf.writestr("validationset2.txt", "c03-020-00\n")
        zf.writestr("testset.txt", "d04-030-00\n")
    return images


def read_rows(out: Path) -> list[dict]:
    with open(out / "marking.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_iam_official_layout(tmp_path):
    images = make_raw(tmp_path / "raw")
    report = convert("iam", tmp_path / "raw", tmp_path / "out", dataset="iam",
                     options={"split": "official", "unlisted": "train"})
    rows = read_rows(tmp_path / "out")
    assert [r["sample_id"] for r in rows] == [i for i, _, _ in LINES]
    assert [r["stage"] for r in rows] == ["train", "train", "valid", "valid", "test", "train"]
    assert [r["text"] for r in rows] == [
        "A MOVE to stop Mr. Gaitskell", 'he said , "they were"', "nominating any more",
        "is to be made", "at a meeting", "Labour M Ps"]
    assert [r["writer"] for r in rows] == ["000", "000", "001", "002", "003", "004"]
    for r in rows:
        assert np.array_equal(read_gray(tmp_path / "out" / r["path"]), images[r["sample_id"]])
    assert report.counts == {"train": 3, "valid": 2, "test": 1}
    assert report.skipped == []
    saved = json.loads((tmp_path / "out" / "prepare_report.json").read_text(encoding="utf-8"))
    assert saved["counts"] == report.counts and saved["alphabet"] == report.alphabet
    # archives were unpacked once next to themselves
    assert (tmp_path / "raw" / "ascii" / "lines.txt").is_file()


def test_iam_unlisted_skip_and_err(tmp_path):
    make_raw(tmp_path / "raw")
    report = convert("iam", tmp_path / "raw", tmp_path / "out",
                     options={"unlisted": "skip", "skip_err": True})
    assert report.counts == {"train": 1, "valid": 2, "test": 1}
    reasons = {s.item: s.reason for s in report.skipped}
    assert reasons == {"a01-000u-01": "segmentation marked err in lines.txt",
                       "e05-040-00": "not in any split list"}


def test_iam_b_lists(tmp_path):
    make_raw(tmp_path / "raw")
    (tmp_path / "raw" / "IAM-B").mkdir()
    for st, ids in {"train": ["a01-000u-00", "e05-040-00"], "valid": ["b02-010-00"],
                    "test": ["c03-020-00", "d04-030-00"]}.items():
        (tmp_path / "raw" / "IAM-B" / f"{st}.txt").write_text("\n".join(ids) + "\n")
    report = convert("iam_tbluche", tmp_path / "raw", tmp_path / "out")
    assert report.counts == {"train": 2, "valid": 1, "test": 2}
    assert [s.item for s in report.skipped] == ["a01-000u-01"]


def test_iam_truncated_image_is_skipped_with_reason(tmp_path):
    make_raw(tmp_path / "raw", bad_image="c03-020-00")
    report = convert("iam", tmp_path / "raw", tmp_path / "out")
    assert [s.item for s in report.skipped] == ["c03-020-00"]
    assert report.skipped[0].reason.startswith("unreadable image")
    assert "c03-020-00" not in {r["sample_id"] for r in read_rows(tmp_path / "out")}


def test_iam_truncated_archive_writes_nothing(tmp_path):
    make_raw(tmp_path / "raw", truncate_lines_tgz=True)
    with pytest.raises(ArchiveError, match="lines.tgz is truncated or corrupt"):
        convert("iam", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "raw" / "lines").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_iam_missing_transcription_file(tmp_path):
    make_raw(tmp_path / "raw")
    (tmp_path / "raw" / "ascii.tgz").unlink()
    with pytest.raises(ConversionError, match="missing IAM transcription file ascii/lines.txt"):
        convert("iam", tmp_path / "raw", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_iam_missing_image_strict_and_lenient(tmp_path):
    make_raw(tmp_path / "raw")
    convert("iam", tmp_path / "raw", tmp_path / "tmp_out")  # unpack the archives
    (tmp_path / "raw" / "lines" / "d04" / "d04-030" / "d04-030-00.png").unlink()
    with pytest.raises(ConversionError, match="d04-030-00: missing line image"):
        convert("iam", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    report = convert("iam", tmp_path / "raw", tmp_path / "out", options={"strict": False})
    assert [s.item for s in report.skipped] == ["d04-030-00"]
    assert report.counts["test"] == 0


def test_existing_output_is_not_overwritten(tmp_path):
    make_raw(tmp_path / "raw")
    convert("iam", tmp_path / "raw", tmp_path / "out")
    before = (tmp_path / "out" / "marking.csv").read_bytes()
    with pytest.raises(ConversionError, match="already holds a prepared dataset"):
        convert("iam", tmp_path / "raw", tmp_path / "out", options={"unlisted": "skip"})
    assert (tmp_path / "out" / "marking.csv").read_bytes() == before
    convert("iam", tmp_path / "raw", tmp_path / "out", options={"unlisted": "skip"}, overwrite=True)
    assert len(read_rows(tmp_path / "out")) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]
