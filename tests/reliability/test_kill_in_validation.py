"""kill -9 during validation when the step checkpoint fell on the epoch's last batch: the resumed
run validates that epoch and ends bit-identical to an uninterrupted run (it used to skip the
epoch's validation and replay the previous epoch's sample order)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from conftest import make_dataset
from fault_helpers import TIMEOUT, env, train_cmd, wait_for

pytestmark = pytest.mark.slow

# 24 train lines, batch 4: 6 steps per epoch; a step checkpoint every 6 steps would fall on the
# last batch of every epoch
EVERY_EPOCH_END = "callbacks.step_checkpoint.every_n_train_steps=6"


def test_sigkill_during_validation_then_resume_matches_uninterrupted_run(tmp_path):
    data = make_dataset(tmp_path / "tiny")
    ref = subprocess.run(train_cmd(data, tmp_path / "ref", tmp_path / "cache", EVERY_EPOCH_END,
                                   "test_after_fit=false"),
                         env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert ref.returncode == 0, ref.stderr[-4000:]

    run, marker = tmp_path / "run", tmp_path / "stalled"
    cmd = train_cmd(data, run, tmp_path / "cache", EVERY_EPOCH_END, "test_after_fit=false",
                    "resume=auto", "data.num_workers=2")
    proc = subprocess.Popen(cmd + ["+callbacks.stall._target_=fault_helpers.StallIn",
                                   "+callbacks.stall.stage=validation",
                                   f"+callbacks.stall.marker={marker}"],
                            env=env(), stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "killed.log").open("w"), start_new_session=True)
    try:
        wait_for(marker, proc)  # in epoch 0's validation
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    resumed = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-4000:]

    ref_hist = json.loads((tmp_path / "ref" / "history.json").read_text())
    got_hist = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in got_hist] == [h["epoch"] for h in ref_hist] == [0, 1]
    for a, b in zip(ref_hist, got_hist):
        assert b["val/loss"] == pytest.approx(a["val/loss"], rel=1e-6), (a, b)
    wa = torch.load(tmp_path / "ref" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-6, atol=1e-7, msg=k)
