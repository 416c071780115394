"""A full or read-only disk is a clear error naming the folder, before or instead of a crash:
the image cache (used to die with SIGBUS from a sparse memory map), a checkpoint (used to say
``basic_ios::clear: iostream error``), predict.py's out= (used to fail only after every image was
recognized). Temporary files of a killed build are removed on the next start."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from fault_helpers import run_on_small_fs
from stackmix.data.cache import open_or_build
from stackmix.fs import HOST_TAG, TMP_MARK


def noisy_lines(folder: Path, n: int = 6) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"{i}.png"
        cv2.imwrite(str(p), rng.integers(0, 256, (200, 3000), dtype=np.uint8))
        paths.append(p)
    return paths


def test_image_cache_on_a_full_disk_is_an_error_naming_folder_and_size(tmp_path):
    paths = noisy_lines(tmp_path / "lines")  # ~1.5 MB of fitted pixels at 128×2048
    small = tmp_path / "small"
    proc = run_on_small_fs(f"""
import os, sys
from pathlib import Path
from stackmix.data.cache import open_or_build
paths = [Path(p) for p in {[str(p) for p in paths]!r}]
try:
    open_or_build(paths, 128, 2048, {str(small)!r}, "noisy")
except OSError as e:
    print("ERROR", e)
print("LEFT", sorted(p.name for p in Path({str(small)!r}).rglob("*")))
""", small)
    assert proc.returncode == 0, proc.stderr[-3000:]  # not killed by SIGBUS (-7)
    out = proc.stdout
    assert f"ERROR no space left in {small}/images" in out and "MB needed" in out, out
    assert "LEFT ['images']" in out  # no temporary file left behind


def test_checkpoint_on_a_full_disk_names_the_file_and_folder(tmp_path):
    small = tmp_path / "small"
    proc = run_on_small_fs(f"""
import torch
from stackmix.training.checkpoint_io import AtomicCheckpointIO
try:
    AtomicCheckpointIO().save_checkpoint({{"w": torch.zeros(400_000)}}, {str(small)!r} + "/ckpt/last.ckpt")
except OSError as e:
    print("ERROR", e)
import os
print("LEFT", os.listdir({str(small)!r} + "/ckpt"))
""", small)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"ERROR no space left in {small}/ckpt to write last.ckpt" in proc.stdout, proc.stdout
    assert "LEFT []" in proc.stdout


def test_predict_checks_its_output_folder_before_recognizing(tmp_path):
    ro = tmp_path / "ro"
    proc = run_on_small_fs(f"""
from omegaconf import OmegaConf
from stackmix.cli.predict import PredictError, run
cfg = OmegaConf.create({{"ckpt": {str(tmp_path / "no_model.ckpt")!r}, "input": {str(tmp_path)!r},
                         "out": {str(ro / "preds.csv")!r}}})
try:
    run(cfg)
except PredictError as e:
    print("ERROR", e)
""", ro, read_only=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"ERROR out={ro}/preds.csv: cannot write" in proc.stdout, proc.stdout


def test_stale_temporaries_of_a_killed_cache_build_are_removed(tmp_path):
    paths = noisy_lines(tmp_path / "lines", n=2)
    images = tmp_path / "cache" / "images"
    images.mkdir(parents=True)
    dead_pid = 2**22 + 12345  # above any pid_max: no such process
    stale = images / f".noisy-128x2048-abc.npy{TMP_MARK}{HOST_TAG}-{dead_pid}-x1y2.npy.tmp"
    stale.write_bytes(b"\0" * 4096)
    mine = images / f".other.npy{TMP_MARK}{HOST_TAG}-{os.getpid()}-live.npy.tmp"  # a live writer's: kept
    mine.write_bytes(b"")
    open_or_build(paths, 32, 256, tmp_path / "cache", "noisy")
    assert not stale.exists() and mine.exists()
