"""SIGTERM to the whole process group (as SLURM sends it) in validation and in the final test,
with DataLoader workers: the process exits with 143 and a message within seconds (it used to hang
for ever in validation: multiprocessing's exit handler terminated the workers with SIGTERM, which
they ignore, then waited for them). SIGTERM during training: test_kill_resume.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from conftest import make_dataset
from fault_helpers import env, train_cmd, wait_for

pytestmark = pytest.mark.slow

EXIT_WITHIN_S = 300  # generous for a loaded machine; the bug was a hang for ever


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny")


def stall_in(stage: str, marker: Path) -> list[str]:
    return ["+callbacks.stall._target_=fault_helpers.StallIn", f"+callbacks.stall.stage={stage}",
            f"+callbacks.stall.marker={marker}"]


def sigterm_in(stage: str, data: Path, tmp_path: Path, *more: str) -> tuple[int, str]:
    marker = tmp_path / "stalled"
    log = tmp_path / f"{stage}.log"
    cmd = train_cmd(data, tmp_path / "run", tmp_path / "cache", "data.num_workers=2",
                    "data.persistent_workers=true", "trainer.max_epochs=1", *more,
                    *stall_in(stage, marker))
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=log.open("w"),
                            start_new_session=True)
    try:
        wait_for(marker, proc)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {EXIT_WITHIN_S} s after SIGTERM in {stage}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, log.read_text()


def test_sigterm_during_validation_exits_143_with_a_resumable_checkpoint(data, tmp_path):
    rc, err = sigterm_in("validation", data, tmp_path)
    assert rc == 143, err[-3000:]
    assert "stopped by SIGTERM" in err and "resume=auto" in err
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "on_exception.ckpt", weights_only=True)
    assert ckpt["global_step"] == 6 and ckpt["optimizer_states"]
    # continuing finishes the interrupted validation (epoch 0 is in the history) and the test
    again = subprocess.run(train_cmd(data, tmp_path / "run", tmp_path / "cache",
                                     "trainer.max_epochs=1", "resume=auto"),
                           env=env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0] and history[0]["val/loss"] is not None


def test_sigterm_during_the_final_test_exits_143_and_says_training_is_complete(data, tmp_path):
    rc, err = sigterm_in("test", data, tmp_path)
    assert rc == 143, err[-3000:]
    assert "stopped by SIGTERM while testing" in err and "resume=auto" in err
    assert not (tmp_path / "run" / "metrics.json").exists()
