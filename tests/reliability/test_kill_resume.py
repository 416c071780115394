"""Faults end to end (subprocesses): SIGKILL mid-epoch + resume=auto reproduces an uninterrupted
run exactly; SIGTERM leaves a loadable checkpoint; a run writes nothing outside its folders."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import make_dataset
from fault_helpers import TIMEOUT, env, stall, train_cmd, wait_for

pytestmark = pytest.mark.slow  # subprocess trainings (make test-fast skips them)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    """The reference run, started from an empty working directory with TMPDIR pointing to an
    empty folder: it doubles as the "writes nothing outside its folders" check."""
    base = tmp_path_factory.mktemp("ref")
    cwd, tmpdir = base / "cwd", base / "tmp"
    cwd.mkdir(), tmpdir.mkdir()
    # relative folders: resolved against the working directory, like a user's command line
    proc = subprocess.run(train_cmd(data, "run", "cache", "resume=auto"), cwd=cwd,
                          env=env(TMPDIR=str(tmpdir), STACKMIX_CACHE=str(cwd / "cache")),
                          capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"run": cwd / "run", "cwd": cwd, "tmpdir": tmpdir}


def test_run_writes_only_its_output_and_cache_folders(uninterrupted):
    assert sorted(p.name for p in uninterrupted["cwd"].iterdir()) == ["cache", "run"]
    assert list(uninterrupted["tmpdir"].iterdir()) == []  # no temp files left behind
    run = uninterrupted["run"]
    assert not list(run.rglob("*.tmp")) and not (run / "lightning_logs").exists()
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last.ckpt" in ckpts and "step.ckpt" in ckpts and "on_exception.ckpt" not in ckpts


def load_weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_sigkill_mid_epoch_then_resume_auto_matches_uninterrupted_run(data, uninterrupted, tmp_path):
    run = tmp_path / "run"
    marker = tmp_path / "stalled"
    # step 9 = epoch 1, third batch; the newest checkpoint then is step.ckpt (step 8, mid-epoch).
    # With DataLoader workers (the reference has none): samples are seeded per (epoch, index).
    workers = ["data.num_workers=2", "data.persistent_workers=true"]
    proc = subprocess.Popen(train_cmd(data, run, tmp_path / "cache", "resume=auto", *workers,
                                      *stall(9, marker)),
                            env=env(), stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "killed.log").open("w"))  # a file: never blocks
    try:
        wait_for(marker, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "metrics.json").exists()
    step = torch.load(run / "checkpoints" / "step.ckpt", weights_only=True, mmap=True)
    assert step["global_step"] == 8
    assert step["HTRDataModule"]["train_progress"]["batches_done"] == 2

    resumed = subprocess.run(train_cmd(data, run, tmp_path / "cache", "resume=auto", *workers),
                             env=env(),
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    log = resumed.stdout + resumed.stderr
    assert "resume: epoch 1 continues after its first 2 batches" in log

    ref = json.loads((uninterrupted["run"] / "metrics.json").read_text())
    got = json.loads((run / "metrics.json").read_text())
    assert got["resumed_from"] == str(run / "checkpoints" / "step.ckpt")
    for key in ("epochs", "best_val_cer", "test/cer", "test/wer", "test/acc", "test/loss"):
        assert got[key] == pytest.approx(ref[key], rel=1e-6, abs=1e-7), key
    ref_hist = json.loads((uninterrupted["run"] / "history.json").read_text())
    got_hist = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in got_hist] == [h["epoch"] for h in ref_hist]
    for a, b in zip(ref_hist, got_hist):
        assert b["val/loss"] == pytest.approx(a["val/loss"], rel=1e-6), (a, b)
    wa = load_weights(uninterrupted["run"] / "checkpoints" / "last.ckpt")
    wb = load_weights(run / "checkpoints" / "last.ckpt")
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-6, atol=1e-7, msg=k)


def test_sigterm_writes_a_loadable_checkpoint_and_exits_143(data, tmp_path):
    from stackmix.model.module import HTRModule

    run = tmp_path / "run"
    marker = tmp_path / "stalled"
    # SLURM signals the whole job (all processes, DataLoader workers included): do the same
    proc = subprocess.Popen(train_cmd(data, run, tmp_path / "cache", "data.num_workers=2",
                                      "data.persistent_workers=true",
                                      *stall(3, marker, until_sigterm=True)),
                            env=env(), stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "err.log").open("w"), start_new_session=True)
    try:
        wait_for(marker, proc)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = (tmp_path / "err.log").read_text()
    assert proc.returncode == 143, err[-3000:]
    assert "stopped by SIGTERM" in err and "resume=auto" in err

    path = run / "checkpoints" / "on_exception.ckpt"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 3 and ckpt["optimizer_states"] and ckpt["lr_schedulers"]
    assert ckpt["HTRDataModule"]["train_progress"]["batches_done"] == 3
    model = HTRModule.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    assert model.hparams.image_h == 32
    from stackmix.training.resume import find_resume_checkpoint

    assert find_resume_checkpoint(run) == path  # what resume=auto would continue from
