"""Folders of image + .gt.txt pairs, and the page/document/writer/list/none splits."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.formats import Line, assign_stages, import_dataset
from stackmix.data.sources.common import ConversionError


def _line(path: Path, text: str | None, seed: int) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (16, 40), dtype=np.uint8)
    cv2.imwrite(str(path), img)
    if text is not None:
        gt = path.with_name(path.name.split(".")[0] + ".gt.txt")
        gt.write_text(text, encoding="utf-8")
    return path.read_bytes()


def make_folder(root: Path) -> dict:
    files = {}
    k = 0
    for doc in ("docA", "docB", "docC", "docD"):
        for i in range(3):
            files[f"{doc}_l{i}"] = _line(root / doc / f"l{i}.png", f"{doc} line {i}\n", k)
            k += 1
    files["docA_ocropus"] = _line(root / "docA" / "ocropus.bin.png", "binarized  line", 99)
    _line(root / "docB" / "nogt.png", None, 100)
    (root / "docC" / "orphan.gt.txt").write_text("no image")
    return files


def read_rows(out: Path) -> list[dict]:
    with open(out / "marking.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_gt_txt_pairs_and_document_split(tmp_path):
    files = make_folder(tmp_path / "in")
    report = import_dataset("gt_txt", tmp_path / "in", tmp_path / "out", split="document",
                            ratios={"train": 0.5, "valid": 0.25, "test": 0.25}, seed=1)
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 13
    by_id = {r["sample_id"]: r for r in rows}
    assert by_id["docA_ocropus"]["text"] == "binarized line"
    assert by_id["docB_l2"]["text"] == "docB line 2"
    for sid, r in by_id.items():
        assert (tmp_path / "out" / r["path"]).read_bytes() == files[sid]
    stages = {}
    for r in rows:  # a document never spans two stages
        stages.setdefault(r["document"], set()).add(r["stage"])
    assert all(len(s) == 1 for s in stages.values())
    assert sorted(next(iter(s)) for s in stages.values()) == ["test", "train", "train", "valid"]
    assert sorted((s.item, s.reason) for s in report.skipped) == [
        ("docB_nogt", "no transcription: nogt.gt.txt is missing next to nogt.png"),
        ("docC/orphan.gt.txt", "transcription without an image")]


def test_gt_txt_list_and_none_splits(tmp_path):
    make_folder(tmp_path / "in")
    (tmp_path / "train.txt").write_text("docA\ndocB\n")
    (tmp_path / "valid.txt").write_text("docC/l0\n")
    (tmp_path / "test.txt").write_text("docD_l1\n")
    report = import_dataset("gt_txt", tmp_path / "in", tmp_path / "out", split="list",
                            lists={"train": tmp_path / "train.txt", "valid": tmp_path / "valid.txt",
                                   "test": tmp_path / "test.txt"})
    assert report.counts == {"train": 7, "valid": 1, "test": 1}
    assert sum(s.reason == "not in any split list" for s in report.skipped) == 4
    report = import_dataset("gt_txt", tmp_path / "in", tmp_path / "out2", split="none", stage="test")
    assert report.counts == {"train": 0, "valid": 0, "test": 13}


def _lines(keys: list[str]) -> list[Line]:
    return [Line(f"s{i}", "t", lambda: None, page=k, document=k[:1]) for i, k in enumerate(keys)]


def test_group_split_is_disjoint_deterministic_and_near_ratios():
    keys = [f"p{i // 5:02d}" for i in range(200)]  # 40 pages of 5 lines
    a = assign_stages(_lines(keys), split="page", seed=3, skip=lambda i, r: None)
    b = assign_stages(_lines(keys), split="page", seed=3, skip=lambda i, r: None)
    assert [st for _, st in a] == [st for _, st in b]
    per_page = {}
    for ln, st in a:
        per_page.setdefault(ln.page, set()).add(st)
    assert all(len(v) == 1 for v in per_page.values())
    counts = {st: sum(1 for _, s in a if s == st) for st in ("train", "valid", "test")}
    assert counts == {"train": 160, "valid": 20, "test": 20}
    c = assign_stages(_lines(keys), split="page", seed=4, skip=lambda i, r: None)
    assert [st for _, st in c] != [st for _, st in a]


def test_writer_split_needs_writers(tmp_path):
    skipped = []
    lines = _lines(["pa", "pa", "pb", "pc", "pd"])
    (tmp_path / "w.csv").write_text("key,writer\npa,w1\npb,w1\npc,w2\n")
    out = assign_stages(lines, split="writer", writers=tmp_path / "w.csv",
                        ratios=[0.5, 0.5, 0], skip=lambda i, r: skipped.append(i))
    assert skipped == ["s4"]
    by_writer = {}
    for ln, st in out:
        by_writer.setdefault(ln.extra["writer"], set()).add(st)
    assert all(len(v) == 1 for v in by_writer.values()) and len(by_writer) == 2
    with pytest.raises(ConversionError, match="unknown split"):
        assign_stages(lines, split="random", skip=lambda i, r: None)


def test_split_by_document_pattern_keeps_each_document_in_one_stage():
    # a flat folder of pages: letter<k>-<page>; 30 letters of 1-4 pages, 3 lines per page
    keys = [f"letter{k:02d}-{p}" for k in range(30) for p in range(1 + k % 4) for _ in range(3)]
    keys.append("cover")  # no document number: reported, not guessed
    skipped = []
    out = assign_stages(_lines(keys), split="group", group_pattern=r"^(letter\d+)-\d+$", seed=1,
                        skip=lambda i, r: skipped.append(r))
    stages: dict[str, set] = {}
    for ln, st in out:
        stages.setdefault(ln.extra["group"], set()).add(st)
    assert len(stages) == 30 and all(len(v) == 1 for v in stages.values())
    assert {next(iter(v)) for v in stages.values()} == {"train", "valid", "test"}
    assert skipped == ["page 'cover' does not match group_pattern '^(letter\\\\d+)-\\\\d+$'"]
    # the page split, for contrast, does separate pages of one letter
    by_page = assign_stages(_lines(keys[:-1]), split="page", seed=1, skip=lambda i, r: None)
    spread: dict[str, set] = {}
    for ln, st in by_page:
        spread.setdefault(ln.page.split("-")[0], set()).add(st)
    assert any(len(v) > 1 for v in spread.values())
    with pytest.raises(ConversionError, match="needs task.group_pattern"):
        assign_stages(_lines(keys), split="group", skip=lambda i, r: None)
    with pytest.raises(ConversionError, match="not a valid regular expression"):
        assign_stages(_lines(keys), split="group", group_pattern="(", skip=lambda i, r: None)


def test_test_only_import_does_not_report_unseen_characters(tmp_path):
    make_folder(tmp_path / "in")
    report = import_dataset("gt_txt", tmp_path / "in", tmp_path / "out", split="none",
                            stage="test")
    assert report.unseen == {"valid": "", "test": ""}
    text = report.summary()
    assert "never seen in train" not in text and "no train line" in text
