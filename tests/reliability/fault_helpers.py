"""Helpers imported by the training subprocesses of the fault tests (PYTHONPATH=tests/reliability)."""
from __future__ import annotations

import time
from pathlib import Path

import lightning as L


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
