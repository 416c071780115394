"""Digital Peter from a tiny fake line archive (images/, words/, mapper.csv)."""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.sources import convert
from stackmix.data.sources.common import ConversionError

MAPPER = [  # new_name, train, public, private, text
    ("0_1_0.jpg", "True", "False", "False", "человѣкъ тритца с собою"),
    ("15_8_11.jpg", "False", "False", "True", "в тонигъ загналъ"),
    ("32_2_1.jpg", "False", "True", "False", "с воронежа пришел"),
    ("27_46_30.jpg", "", "", "", "2"),
]


def make_zip(path: Path, *, drop_words=None) -> dict:
    files = {}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data_anon/mapper.csv", "new_name,old_name,train,public,private\n" + "".join(
            f"{n},old_{n},{t},{p},{q}\n" for n, t, p, q, _ in MAPPER))
        for k, (n, _, _, _, text) in enumerate(MAPPER):
            a = np.random.default_rng(k).integers(0, 256, (40, 120, 3), dtype=np.uint8)
            files[Path(n).stem] = cv2.imencode(".jpg", a)[1].tobytes()
            zf.writestr(f"data_anon/images/{n}", files[Path(n).stem])
            if Path(n).stem != drop_words:
                zf.writestr(f"data_anon/words/{Path(n).stem}.txt", text + "\n")
    return files


def test_peter(tmp_path):
    (tmp_path / "raw").mkdir()
    files = make_zip(tmp_path / "raw" / "peter_lines.zip")
    report = convert("peter", tmp_path / "raw", tmp_path / "out", options={"unassigned": "train"})
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sample_id"], r["stage"], r["text"]) for r in rows] == [
        ("0_1_0", "train", "человѣкъ тритца с собою"),
        ("15_8_11", "test", "в тонигъ загналъ"),
        ("32_2_1", "valid", "с воронежа пришел"),
        ("27_46_30", "train", "2"),
    ]
    for r in rows:
        assert (tmp_path / "out" / r["path"]).read_bytes() == files[r["sample_id"]]
    assert report.skipped == []
    report = convert("peter", tmp_path / "raw", tmp_path / "out2", options={"unassigned": "skip"})
    assert [s.item for s in report.skipped] == ["27_46_30"]


def test_peter_missing_transcription_file(tmp_path):
    (tmp_path / "raw").mkdir()
    make_zip(tmp_path / "raw" / "p.zip", drop_words="32_2_1")
    with pytest.raises(ConversionError, match=r"32_2_1: missing transcription file .*32_2_1\.txt"):
        convert("peter", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()
