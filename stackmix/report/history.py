"""``TrainingHistory``: per-epoch train loss, valid loss and valid CER → history.json + curves."""
from __future__ import annotations

from pathlib import Path

import lightning as L

from stackmix.fs import atomic_write_json
from stackmix.report.curves import plot_curves


class TrainingHistory(L.Callback):
    """Keeps per-epoch train loss, valid loss and valid CER; writes history.json and curves.png."""

    def __init__(self, out_dir: str | None = None):
        self.out_dir = out_dir
        self.epochs: list[dict] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # on_validation_end runs after the module's epoch-end hook has logged this epoch's CER
        if trainer.sanity_checking:
            return
        m = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        for key in ("train/loss_epoch", "val/loss", "val/cer", "val/wer", "val/acc"):
            if key in m:
                row[key] = float(m[key])
        self.epochs.append(row)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = trainer.callback_metrics
        if self.epochs and "train/loss_epoch" in m and self.epochs[-1]["epoch"] == trainer.current_epoch:
            self.epochs[-1]["train/loss_epoch"] = float(m["train/loss_epoch"])

    def state_dict(self) -> dict:
        return {"epochs": self.epochs}

    def load_state_dict(self, state: dict) -> None:
        self.epochs = list(state.get("epochs", []))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.out_dir:
            self.write(self.out_dir)

    def write(self, out_dir: str | Path) -> None:
        out = Path(out_dir)
        atomic_write_json(out / "history.json", self.epochs)
        if self.epochs:
            plot_curves(self.epochs, out / "curves.png")
