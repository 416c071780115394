"""The run's summary table, ``metrics.json`` and the per-line test predictions CSV."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable

from stackmix.fs import atomic_write_json, atomic_write_text
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
