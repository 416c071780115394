"""Helpers of the fault tests: callbacks imported by the training subprocesses
(PYTHONPATH=tests/reliability) and the functions that start and watch those subprocesses."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import lightning as L

HELPERS = Path(__file__).resolve().parent
TIMEOUT = 1500  # a bound for hangs on a loaded machine, not a speed target


def train_cmd(data: Path, run: Path | str, cache: Path | str, *more: str) -> list[str]:
    # 24 train lines, batch 4: 6 steps per epoch, 2 epochs; mid-epoch checkpoint every 4 steps
    from conftest import REPO, tiny_train_overrides

    return [sys.executable, str(REPO / "train.py"), *tiny_train_overrides(data),
            "trainer.max_epochs=2", "data.batch_size=4",
            "callbacks.step_checkpoint.every_n_train_steps=4",
            f"hydra.run.dir={run}", f"paths.cache_dir={cache}", *more]


def env(**extra) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(HELPERS), e.get("PYTHONPATH")) if p)
    e.update(extra)
    return e


def stall(step: int, marker: Path, until_sigterm: bool = False) -> list[str]:
    return ["+callbacks.stall._target_=fault_helpers.StallAt", f"+callbacks.stall.step={step}",
            f"+callbacks.stall.marker={marker}", f"+callbacks.stall.until_sigterm={until_sigterm}"]


def wait_for(marker: Path, proc: subprocess.Popen) -> None:
    import pytest

    deadline = time.monotonic() + TIMEOUT
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"training exited early ({proc.returncode}); see its log in {marker.parent}")
        assert time.monotonic() < deadline, "training never reached the stall step"
        time.sleep(0.05)


class StallAt(L.Callback):
    """At global step ``step`` (after that batch's update): write ``marker`` and wait — until
    SIGTERM if ``until_sigterm``, else forever (the test kills the process with SIGKILL)."""

    def __init__(self, step: int, marker: str, until_sigterm: bool = False):
        self.step = int(step)
        self.marker = Path(marker)
        self.until_sigterm = until_sigterm

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step != self.step:
            return
        self.marker.write_text(f"{trainer.current_epoch} {batch_idx}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.until_sigterm and trainer.received_sigterm:
                return
            time.sleep(0.02)


class Record(L.Callback):
    """Appends one JSON line per training batch to ``path``: step, sample ids, loss, lr (debugging
    aid for resume tests)."""

    def __init__(self, path: str):
        self.path = Path(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        import torch
        self._rng = float(torch.get_rng_state().float().sum())
        self._w = float(sum(p.detach().double().sum() for p in pl_module.parameters()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        import json
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        row = {"step": trainer.global_step, "epoch": trainer.current_epoch, "batch_idx": batch_idx,
               "ids": list(batch["sample_ids"]), "loss": float(loss),
               "lr": trainer.optimizers[0].param_groups[0]["lr"], "rng": self._rng, "w": self._w}
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


class StallIn(L.Callback):
    """In the first batch of ``stage`` ("validation" or "test"): write ``marker`` and wait until
    SIGTERM arrives (the test sends it to the whole process group)."""

    def __init__(self, stage: str, marker: str):
        self.stage = stage
        self.marker = Path(marker)

    def _stall(self, trainer) -> None:
        if self.marker.exists():
            return
        self.marker.write_text(f"{self.stage} {trainer.current_epoch}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not trainer.received_sigterm:
            time.sleep(0.02)

    def on_validation_batch_end(self, trainer, *args, **kwargs):
        if self.stage == "validation" and not trainer.sanity_checking:
            self._stall(trainer)

    def on_test_batch_end(self, trainer, *args, **kwargs):
        if self.stage == "test":
            self._stall(trainer)


def run_on_small_fs(code: str, mount: Path, size: str = "512k", read_only: bool = False,
                    timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a private mount namespace where ``mount`` is a fresh tmpfs of
    ``size`` (read-only if asked): a real full or read-only disk without touching the machine's.
    Skips the test where unprivileged user/mount namespaces are unavailable."""
    import shutil

    import pytest

    if not shutil.which("unshare"):
        pytest.skip("needs util-linux unshare")
    mount.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o {opts} tmpfs {mount}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")
    script = mount.parent / f"{mount.name}.py"
    script.write_text(code)
    return subprocess.run(["unshare", "-rm", "sh", "-c",
                           f"mount -t tmpfs -o {opts} tmpfs {mount} && exec {sys.executable} {script}"],
                          env=env(), capture_output=True, text=True, timeout=timeout)
