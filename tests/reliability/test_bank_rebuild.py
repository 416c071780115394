"""Rebuilding the token bank while a training reads it: the training keeps the bank it started
with (its DataLoader workers used to load the new index and fail to render the corpus)."""
from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np

from conftest import render_line
from stackmix.data.marking import write_marking
from stackmix.fs import HOST_TAG, TMP_MARK
from stackmix.mix.bank import TokenBank
from stackmix.mix.bank_build import build_bank
from stackmix.mix.generator import StackMixGenerator
from stackmix.mix.masks import CharMasks, LineMask


def masked(root: Path, texts: list[str]) -> CharMasks:
    """Lines of ``texts`` with evenly spaced character boundaries (enough for a bank)."""
    (root / "lines").mkdir(parents=True, exist_ok=True)
    rows, lines = [], []
    for i, t in enumerate(texts):
        img = render_line(t)
        rel = f"lines/{i:03d}.png"
        cv2.imwrite(str(root / rel), img)
        rows.append({"sample_id": f"s{i:03d}", "path": rel, "stage": "train", "text": t})
        bounds = list(np.linspace(4, img.shape[1] - 4, len(t) + 1))
        lines.append(LineMask(f"s{i:03d}", rel, t, img.shape[1], img.shape[0], bounds))
    write_marking(root, rows)
    return CharMasks("tiny", str(root), lines, {"image_h": 32, "image_w": 256}, {})


def test_a_running_training_keeps_the_bank_it_started_with(tmp_path):
    prefix = tmp_path / "tokens" / "bank"
    build_bank(masked(tmp_path / "a", ["bad cafe", "deaf face", "abc fade"]), prefix, height=32)
    bank = TokenBank(prefix)  # what the training opened
    gen = StackMixGenerator(bank, ["cafe bead", "face deaf"], p=1.0)
    # rebuilt meanwhile from other lines (no 'f', another height, another build id)
    build_bank(masked(tmp_path / "b", ["bad cab", "dab ace"]), prefix, height=24)
    worker = pickle.loads(pickle.dumps(gen))  # what a DataLoader worker receives afterwards
    assert worker.bank.meta["build_id"] == bank.meta["build_id"] and worker.bank.height == 32
    rng = np.random.default_rng(0)
    for _ in range(20):
        img, text = worker(rng)  # renders the corpus with the old bank: no UnrenderableTextError
        assert text in gen.corpus and img.ndim == 2
    # the old pixels stay while the training holds them; a new training gets the new bank
    assert bank.pixels_path.exists() and TokenBank(prefix).height == 24


def test_a_killed_builds_temporary_files_are_removed_by_the_next_build(tmp_path):
    prefix = tmp_path / "tokens" / "bank"
    masks = masked(tmp_path / "a", ["bad cafe", "deaf face"])
    build_bank(masks, prefix, height=32)
    dead_pid = 2**22 + 12345  # above the kernel's pid_max: no such process
    stale = prefix.parent / f".bank-0123.pixels.npy{TMP_MARK}{HOST_TAG}-{dead_pid}-x1y2.tmp"
    stale.write_bytes(b"\0" * 1000)
    build_bank(masks, prefix, height=32)
    assert not stale.exists()
    assert not [p for p in prefix.parent.iterdir() if p.name.startswith(".")]
