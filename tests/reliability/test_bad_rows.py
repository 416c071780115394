"""Datasets and inputs that used to crash deep inside or pass without a word: zero usable rows
(item 4), a folder as image path, a UTF-16 marking.csv, a symlinked lines/ folder, invisible-only
text, one image in train and test, spaces-only text to generate (item 15)."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import make_dataset
from stackmix.data.datamodule import DatasetError, HTRDataModule
from stackmix.data.marking import MarkingError, read_marking


def dm(root: Path, tmp_path: Path, cache: bool = True, **ds) -> HTRDataModule:
    cfg = {"name": "tiny", "root": str(root), "image_h": 32, "image_w": 128, **ds}
    return HTRDataModule(cfg, num_workers=0, cache_images=cache, cache_dir=str(tmp_path / "c"))


@pytest.mark.parametrize("cache", [True, False])
def test_header_only_marking_says_there_are_no_train_rows(tmp_path, cache):
    root = tmp_path / "d"
    root.mkdir()
    (root / "marking.csv").write_text("sample_id,path,stage,text\n")
    with pytest.raises(DatasetError, match="has no 'train' rows"):
        dm(root, tmp_path, cache).splits


@pytest.mark.parametrize("cache", [True, False])
def test_every_row_skipped_says_there_are_no_train_rows(tmp_path, cache):
    root = make_dataset(tmp_path / "d")
    shutil.rmtree(root / "lines")
    with pytest.raises(DatasetError, match="has no 'train' rows"):
        dm(root, tmp_path, cache, on_bad_row="skip").splits


def test_a_folder_as_image_path_is_named_as_a_folder(tmp_path):
    root = make_dataset(tmp_path / "d")
    (root / "lines" / "0002.png").unlink()
    (root / "lines" / "0002.png").mkdir()
    with pytest.raises(MarkingError, match=r"line 4 .*path is a folder, not an image file"):
        read_marking(root)


def test_utf16_marking_is_named_utf16(tmp_path):
    root = make_dataset(tmp_path / "d")
    csv = root / "marking.csv"
    csv.write_bytes(csv.read_text(encoding="utf-8").encode("utf-16"))  # with its BOM
    with pytest.raises(MarkingError, match=r"UTF-16 LE encoded.*iconv -f utf-16le -t utf-8"):
        read_marking(root)


def test_a_symlinked_lines_folder_is_inside_the_dataset(tmp_path):
    root = make_dataset(tmp_path / "d")
    shutil.move(root / "lines", tmp_path / "elsewhere")
    (root / "lines").symlink_to(tmp_path / "elsewhere")
    assert len(read_marking(root).samples) == 40
    text = (root / "marking.csv").read_text().replace("lines/0001.png", "../d/../../x.png")
    (root / "marking.csv").write_text(text)
    with pytest.raises(MarkingError, match="outside the dataset folder"):
        read_marking(root)


def test_invisible_only_text_is_empty_text(tmp_path):
    root = make_dataset(tmp_path / "d")
    csv = root / "marking.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    parts = lines[3].split(",")
    lines[3] = ",".join(parts[:3] + ["\u200b\u200b"] + parts[4:])
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MarkingError, match=r"line 4 .*empty text: only invisible characters \(U\+200B\)"):
        read_marking(root)


def test_one_image_in_train_and_test_is_warned_about(tmp_path, caplog):
    root = make_dataset(tmp_path / "d")
    text = (root / "marking.csv").read_text().replace("lines/0035.png", "lines/0001.png")
    (root / "marking.csv").write_text(text)
    with caplog.at_level(logging.WARNING):
        dm(root, tmp_path).splits
    assert "1 test line(s) use the same image file as a train line (e.g. s0035" in caplog.text


def test_generate_with_spaces_only_text_says_there_is_nothing_to_write():
    from stackmix.tasks.generate import run

    cfg = OmegaConf.create({"task": {"text": "   ", "bank": "/nonexistent/bank"},
                            "dataset": {"name": "custom"}})
    with pytest.raises(SystemExit, match="has nothing to write"):
        run(cfg)
