"""SLURM preemption through the submitit launcher, simulated locally: submitit's signal (SIGUSR2)
makes the training write its checkpoint before submitit requeues, and the resubmitted job (same
overrides, no resume=) continues from it. It used to die on SIGUSR2 without a checkpoint, and
the resubmitted job started again from step 0."""
from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from conftest import make_dataset
from fault_helpers import TIMEOUT, env, stall, train_cmd, wait_for
from stackmix.training.preemption import SubmititPreemption


def test_the_signal_checkpoints_first_then_hands_over_to_submitit(monkeypatch):
    calls: list[tuple] = []
    old_usr2, old_term = signal.getsignal(signal.SIGUSR2), signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGUSR2, lambda s, f: calls.append(("submitit", s)))
        signal.signal(signal.SIGTERM, lambda s, f: calls.append(("lightning", s)))
        monkeypatch.delenv("SUBMITIT_PREEMPT_SIGNAL", raising=False)
        pre = SubmititPreemption().install()
        signal.raise_signal(signal.SIGUSR2)
        assert calls == [("lightning", signal.SIGTERM)]  # checkpoint first, no requeue yet
        pre.requeue()
        assert calls[-1] == ("submitit", signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, old_usr2)
        signal.signal(signal.SIGTERM, old_term)


@pytest.mark.slow
def test_preempted_launcher_job_continues_where_it_stopped(tmp_path):
    data = make_dataset(tmp_path / "tiny")
    job_env = env(SUBMITIT_EXECUTOR="slurm")  # what submitit's job script exports
    marker = tmp_path / "stalled"
    # the sweep job's command line: no resume= (as the launcher resubmits it)
    cmd = train_cmd(data, tmp_path / "run", tmp_path / "cache", "test_after_fit=false")
    proc = subprocess.Popen(cmd + stall(3, marker, until_sigterm=True), env=job_env,
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "first.log").open("w"))
    try:
        wait_for(marker, proc)
        proc.send_signal(signal.SIGUSR2)
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, (tmp_path / "first.log").read_text()[-3000:]
    ckpt = tmp_path / "run" / "checkpoints" / "on_exception.ckpt"
    assert torch.load(ckpt, weights_only=True, mmap=True)["global_step"] == 3

    again = subprocess.run(cmd, env=job_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert again.returncode == 0, again.stderr[-4000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["resumed_from"] == str(ckpt) and metrics["epochs"] == 2
