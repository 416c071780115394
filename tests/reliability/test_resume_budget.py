"""Resuming with another training budget (subprocesses). A run interrupted mid-epoch and resumed
with another data.batch_size, then extended with a larger trainer.max_epochs, trains to the end
(the one-cycle schedule is rebuilt for the new total; it used to fail with "Tried to step N
times" and leave a checkpoint that no later resume could load); resume=auto on a finished run
says so and changes nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from conftest import make_dataset
from fault_helpers import TIMEOUT, env, stall, train_cmd, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny")


def run(data: Path, tmp_path: Path, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run(train_cmd(data, tmp_path / "run", tmp_path / "cache", "resume=auto",
                                    "test_after_fit=false", *more),
                          env=env(), capture_output=True, text=True, timeout=TIMEOUT)


def schedule(ckpt: Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["lr_schedulers"][0]


def test_changed_batch_size_then_more_epochs_resume_to_the_end(data, tmp_path):
    ckpts = tmp_path / "run" / "checkpoints"
    marker = tmp_path / "stalled"
    # 24 lines, batch 4: 6 steps per epoch, 2 epochs = 12 steps; SIGTERM after step 3
    proc = subprocess.Popen(train_cmd(data, tmp_path / "run", tmp_path / "cache", "resume=auto",
                                      "test_after_fit=false", *stall(3, marker, until_sigterm=True)),
                            env=env(), stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "first.log").open("w"))
    try:
        wait_for(marker, proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    assert schedule(ckpts / "on_exception.ckpt")["total_steps"] == 12

    # batch 3: 8 steps per epoch; the restored 12-step schedule would run out during epoch 1
    second = run(data, tmp_path, "data.batch_size=3")
    assert second.returncode == 0, second.stderr[-4000:]
    assert "the one-cycle learning-rate schedule is rebuilt" in second.stdout + second.stderr
    last = schedule(ckpts / "last.ckpt")
    assert last["last_epoch"] <= last["total_steps"]
    assert torch.load(ckpts / "last.ckpt", weights_only=True)["epoch"] == 1

    # extend the finished run by one epoch: trains epoch 2, then stops
    third = run(data, tmp_path, "data.batch_size=3", "trainer.max_epochs=3")
    assert third.returncode == 0, third.stderr[-4000:]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1, 2]
    last = schedule(ckpts / "last.ckpt")
    assert last["last_epoch"] <= last["total_steps"]
    metrics = tmp_path / "run" / "metrics.json"
    assert json.loads(metrics.read_text())["epochs"] == 3

    # the same command again: the run is finished; nothing is trained, tested or rewritten
    before = metrics.stat().st_mtime_ns, metrics.read_text()
    fourth = run(data, tmp_path, "data.batch_size=3", "trainer.max_epochs=3")
    assert fourth.returncode == 0, fourth.stderr[-4000:]
    assert "is a finished run" in fourth.stdout and "nothing changed" in fourth.stdout
    assert (metrics.stat().st_mtime_ns, metrics.read_text()) == before


def test_a_schedule_never_steps_past_its_end_and_stretches_to_a_new_total():
    """The safety net behind the rebuild, and the rebuild itself: a scheduler at its last step
    holds its learning rate; stretched to twice the steps, it continues exactly as a schedule
    built for the new total from the start."""
    from stackmix.model.schedule import hold_at_end, stretch_one_cycle

    def one_cycle(total):
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
        return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=total)

    def step(opt, sched, n):
        lrs = []
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return lrs

    opt, sched = one_cycle(10)
    step(opt, sched, 10)
    assert hold_at_end(sched)  # one more step() would raise "Tried to step 11 times"
    ref_opt, ref = one_cycle(20)
    step(ref_opt, ref, 10)
    stretch_one_cycle(sched, 20)  # the budget doubled
    assert not hold_at_end(sched)
    assert step(opt, sched, 10) == pytest.approx(step(ref_opt, ref, 10), rel=1e-12)
    assert hold_at_end(sched)
