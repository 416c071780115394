"""End-of-run artefacts: predictions CSV, metrics.json, training curves PNG, summary table."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable

import lightning as L

from stackmix.fs import atomic_save_figure, atomic_write_json, atomic_write_text
from stackmix.metrics import line_cer


def write_predictions(path: str | Path, rows: Iterable[dict]) -> Path:
    """``sample_id,text,prediction,cer`` (CER of each line), written atomically."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=["sample_id", "text", "prediction", "cer"],
                       lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "cer": f"{line_cer(r['text'], r['prediction']):.4f}"})
    atomic_write_text(path, buf.getvalue())
    return Path(path)


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


def plot_curves(epochs: list[dict], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [e["epoch"] for e in epochs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("train/loss_epoch", "train loss"), ("val/loss", "valid loss")):
        pts = [(e["epoch"], e[key]) for e in epochs if key in e]
        if pts:
            ax1.plot(*zip(*pts), marker="o", ms=3, label=label)
    ax1.set_xlabel("epoch"), ax1.set_ylabel("CTC loss"), ax1.set_yscale("log"), ax1.legend()
    pts = [(e["epoch"], 100 * e["val/cer"]) for e in epochs if "val/cer" in e]
    if pts:
        ax2.plot(*zip(*pts), marker="o", ms=3, color="tab:red")
    ax2.set_xlabel("epoch"), ax2.set_ylabel("valid CER, %")
    ax2.grid(alpha=0.3), ax1.grid(alpha=0.3)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)


def summary_table(metrics: dict) -> str:
    """A short fixed-width table of the run's key numbers."""
    rows = [
        ("dataset", metrics.get("dataset", "")),
        ("train / valid / test lines", " / ".join(str(metrics.get("counts", {}).get(k, "-"))
                                                  for k in ("train", "valid", "test"))),
        ("epochs", metrics.get("epochs", "")),
        ("best valid CER", _pct(metrics.get("best_val_cer"))),
        ("test CER", _pct(metrics.get("test/cer"))),
        ("test WER", _pct(metrics.get("test/wer"))),
        ("test string accuracy", _pct(metrics.get("test/acc"))),
        ("train samples/s", _num(metrics.get("train_samples_per_s"))),
        ("wall time", f"{metrics.get('wall_time_s', 0):.0f} s"),
    ]
    w = max(len(k) for k, _ in rows)
    line = "-" * (w + 24)
    return "\n".join([line] + [f"{k:<{w}}  {v}" for k, v in rows] + [line])


def _pct(v) -> str:
    return "-" if v is None else f"{100 * float(v):.2f} %"


def _num(v) -> str:
    return "-" if v is None else f"{float(v):.1f}"


def write_metrics(path: str | Path, metrics: dict) -> None:
    atomic_write_json(path, json.loads(json.dumps(metrics, default=float)))
