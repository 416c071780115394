"""bench/peer_kraken.py: the conversion to kraken's line format (the benchmark itself is not a
test: it installs kraken and trains for an hour)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import REPO, make_dataset

sys.path.insert(0, str(REPO / "bench"))
from peer_kraken import best_checkpoint, convert, parse_report  # noqa: E402
from stackmix.data.marking import read_marking, write_marking  # noqa: E402
from stackmix.text import Normalizer  # noqa: E402


def test_convert_writes_image_and_gt_per_line(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", counts=(3, 2, 2),
                        texts=["abc  bad", "cab", "dab", "ace", "bead", "face", "fade"])
    rows = [{"sample_id": s.sample_id, "path": s.path.relative_to(root).as_posix(),
             "stage": s.stage, "text": s.text} for s in read_marking(root).samples]
    rows[0]["sample_id"] = "a.b/c"   # dots and slashes: kraken strips every suffix of a name
    rows[1]["sample_id"] = "a_b_c"   # collides with the first once sanitized
    write_marking(root, rows)
    out = tmp_path / "kraken"
    paths = convert(root, out, Normalizer())
    assert {k: len(v) for k, v in paths.items()} == {"train": 3, "valid": 2, "test": 2}
    for split, images in paths.items():
        listed = (out / f"{split}.txt").read_text(encoding="utf-8").split()
        assert listed == [str(p) for p in images]
        for img in images:
            assert img.is_file() and img.parent == out / split
            assert "." not in img.name[: -len(img.suffix)]
    names = sorted(p.name for p in paths["train"])
    assert names == ["a_b_c.png", "a_b_c_2.png", "s0002.png"]
    gt = (out / "train" / "a_b_c.gt.txt").read_text(encoding="utf-8")
    assert gt == "abc bad\n"   # normalized as training normalizes it (whitespace collapsed)
    same = (out / "train" / "a_b_c.png").read_bytes() == (root / "lines" / "0000.png").read_bytes()
    assert same


def test_convert_replaces_a_previous_copy_whole(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", counts=(2, 1, 1))
    out = tmp_path / "kraken"
    convert(root, out)
    (out / "train" / "stale.gt.txt").write_text("old", encoding="utf-8")
    convert(root, out)
    assert not (out / "train" / "stale.gt.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "kraken"]  # no temporaries left


def test_convert_reports_bad_marking(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    with pytest.raises(Exception, match="marking.csv"):
        convert(tmp_path / "ds", tmp_path / "kraken")


def test_report_and_checkpoint_choice(tmp_path: Path) -> None:
    report = "=== report m ===\n\n1200\tCharacters\n300\tErrors\n75.00%\tCharacter Accuracy\n"
    assert parse_report(report) == (1200, 300)
    with pytest.raises(ValueError):
        parse_report("nothing")
    assert best_checkpoint(tmp_path) == (None, "no checkpoint written within the budget")
    (tmp_path / "checkpoint_abort.ckpt").write_bytes(b"")
    assert best_checkpoint(tmp_path)[0].name == "checkpoint_abort.ckpt"
    for name in ("checkpoint_00-0.1000.ckpt", "checkpoint_01-0.3000.ckpt", "checkpoint_02-0.2000.ckpt"):
        (tmp_path / name).write_bytes(b"")
    assert best_checkpoint(tmp_path)[0].name == "checkpoint_01-0.3000.ckpt"


def test_max_time_string():
    from peer_kraken import max_time

    assert max_time(60) == "00:01:00:00"
    assert max_time(2.5) == "00:00:02:30"
    assert max_time(1500) == "01:01:00:00"


def test_a_venv_is_reused_unless_another_release_is_asked_for():
    from peer_kraken import satisfies

    made = {"spec": "kraken>=7,<8", "torch": "2.14.1", "torchvision": "0.29.1"}
    plain = {"spec": "kraken>=7,<8", "torch": None, "torchvision": None}
    assert satisfies(made, plain)  # no torch asked: the installed one serves (no 6-GB reinstall)
    assert satisfies(made, dict(made))
    assert not satisfies(made, {**made, "torch": "2.13.0"})
    assert not satisfies(made, {**plain, "spec": "kraken==6.0"})
    assert not satisfies(plain, made)  # a venv with pip's choice of torch, a release asked for
