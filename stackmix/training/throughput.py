"""Training throughput (samples per second over whole epochs), reported in metrics.json."""
from __future__ import annotations

import time

import lightning as L


class Throughput(L.Callback):
    """Training samples per second, measured over whole epochs (data loading included)."""

    def __init__(self):
        self.samples = 0
        self.seconds = 0.0
        self._t0 = None
        self._n = 0

    def on_train_start(self, trainer, pl_module):
        # a run resumed mid-epoch starts without on_train_epoch_start
        self._t0 = time.perf_counter()
        self._n = 0

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0 = time.perf_counter()
        self._n = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._n += len(batch["texts"])

    def on_train_epoch_end(self, trainer, pl_module):
        if self._t0 is not None:
            self.seconds += time.perf_counter() - self._t0
            self.samples += self._n

    @property
    def rate(self) -> float | None:
        return self.samples / self.seconds if self.seconds > 0 else None
