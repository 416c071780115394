"""`python prepare.py task=sweep_table task.multirun=multirun/train/<date>_<time>`: the results
table of a sweep (datasets × augmentations, mean ± std of CER and WER over seeds)."""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from omegaconf import DictConfig, OmegaConf

from stackmix.fs import atomic_save_figure, atomic_write_text

log = logging.getLogger(__name__)

DEFAULT_AUGS = ("base", "blots", "stackmix", "blots_stackmix")


@dataclass
class RunResult:
    dataset: str
    aug: str
    seed: int | str | None
    cer: float
    wer: float
    path: Path


@dataclass
class Cell:
    n: int
    cer_mean: float
    cer_std: float
    wer_mean: float
    wer_std: float


def _hydra_config(run_dir: Path) -> dict:
    f = run_dir / ".hydra" / "config.yaml"
    if not f.is_file():
        return {}
    try:
        return OmegaConf.to_container(OmegaConf.load(f), resolve=False) or {}
    except Exception as e:  # a broken config must not hide the other runs
        log.warning("cannot read %s: %s", f, e)
        return {}


def collect_runs(root: str | Path, metric_prefix: str = "test/") -> tuple[list[RunResult], list[str]]:
    """Every run under ``root`` with a metrics.json holding the CER and WER; also the skipped ones
    (with the reason). Several runs of the same dataset/aug/seed: the newest is kept."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"multirun folder not found: {root}")
    found: dict[tuple, tuple[float, RunResult]] = {}
    skipped: list[str] = []
    for mfile in sorted(root.rglob("metrics.json")):
        run_dir = mfile.parent
        if any(part.startswith(".") for part in run_dir.relative_to(root).parts):
            continue
        try:
            m = json.loads(mfile.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            skipped.append(f"{run_dir}: unreadable metrics.json ({e})")
            continue
        if not isinstance(m, dict):
            skipped.append(f"{run_dir}: metrics.json is not an object")
            continue
        hcfg = _hydra_config(run_dir)
        dataset = m.get("dataset") or (hcfg.get("dataset") or {}).get("name")
        aug = m.get("aug") or (hcfg.get("aug") or {}).get("name")
        seed = m.get("seed", hcfg.get("seed"))
        cer, wer = m.get(f"{metric_prefix}cer"), m.get(f"{metric_prefix}wer")
        if dataset is None or aug is None:
            skipped.append(f"{run_dir}: dataset or aug unknown")
            continue
        if cer is None or wer is None:
            skipped.append(f"{run_dir}: no {metric_prefix}cer / {metric_prefix}wer (unfinished run?)")
            continue
        r = RunResult(str(dataset), str(aug), seed, float(cer), float(wer), run_dir)
        key = (r.dataset, r.aug, str(seed))
        mtime = mfile.stat().st_mtime
        if key in found:
            prev_mtime, prev = found[key]
            if prev_mtime >= mtime:
                skipped.append(f"{run_dir}: same dataset/aug/seed as the newer {prev.path}")
                continue
            skipped.append(f"{prev.path}: same dataset/aug/seed as the newer {run_dir}")
        found[key] = (mtime, r)
    runs = sorted((r for _, r in found.values()), key=lambda r: (r.dataset, r.aug, str(r.seed)))
    return runs, skipped


def _mean_std(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return mean, std


def aggregate(runs: Iterable[RunResult]) -> dict[str, dict[str, Cell]]:
    """dataset → aug → mean ± std (sample standard deviation, n−1) of CER and WER over seeds."""
    groups: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for r in runs:
        groups[(r.dataset, r.aug)].append(r)
    table: dict[str, dict[str, Cell]] = defaultdict(dict)
    for (ds, aug), rs in sorted(groups.items()):
        cm, cs = _mean_std([r.cer for r in rs])
        wm, ws = _mean_std([r.wer for r in rs])
        table[ds][aug] = Cell(len(rs), cm, cs, wm, ws)
    return dict(table)


def aug_columns(table: dict, augs: Sequence[str] = DEFAULT_AUGS) -> list[str]:
    seen = {a for row in table.values() for a in row}
    return list(augs) + sorted(seen - set(augs))


def _pm(mean: float, std: float, n: int) -> str:
    return f"{100 * mean:.2f} ± {100 * std:.2f}" if n > 1 else f"{100 * mean:.2f}"


def to_markdown(table: dict, augs: Sequence[str]) -> str:
    out = []
    for metric, title in (("cer", "CER, %"), ("wer", "WER, %")):
        out += [f"**{title}** (mean ± std over seeds; n = number of seeds)", "",
                "| dataset | " + " | ".join(augs) + " |", "|---|" + "---|" * len(augs)]
        for ds, row in table.items():
            cells = []
            for a in augs:
                c = row.get(a)
                if c is None:
                    cells.append("–")
                else:
                    cells.append(f"{_pm(getattr(c, metric + '_mean'), getattr(c, metric + '_std'), c.n)}"
                                 f" (n={c.n})")
            out.append(f"| {ds} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def to_csv(table: dict, augs: Sequence[str]) -> str:
    """Wide CSV: one row per dataset; per aug: n and mean / std of CER and WER, in percent."""
    fields = ["dataset"]
    for a in augs:
        fields += [f"{a}_n", f"{a}_cer_mean", f"{a}_cer_std", f"{a}_wer_mean", f"{a}_wer_std"]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for ds, row in table.items():
        rec = {"dataset": ds}
        for a in augs:
            c = row.get(a)
            if c is None:
                continue
            rec.update({f"{a}_n": c.n, f"{a}_cer_mean": f"{100 * c.cer_mean:.4f}",
                        f"{a}_cer_std": f"{100 * c.cer_std:.4f}",
                        f"{a}_wer_mean": f"{100 * c.wer_mean:.4f}",
                        f"{a}_wer_std": f"{100 * c.wer_std:.4f}"})
        w.writerow(rec)
    return buf.getvalue()


def runs_csv(runs: Sequence[RunResult]) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "aug", "seed", "cer", "wer", "run"])
    for r in runs:
        w.writerow([r.dataset, r.aug, r.seed, f"{r.cer:.6f}", f"{r.wer:.6f}", str(r.path)])
    return buf.getvalue()


def plot(table: dict, augs: Sequence[str], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    datasets = list(table)
    present = [a for a in augs if any(a in table[d] for d in datasets)]
    fig, axes = plt.subplots(1, 2, figsize=(max(7, 1.2 + 1.6 * len(datasets)) * 2 / 1.4, 3.8))
    width = 0.8 / max(len(present), 1)
    x = np.arange(len(datasets))
    for ax, metric, label in ((axes[0], "cer", "CER, %"), (axes[1], "wer", "WER, %")):
        for k, a in enumerate(present):
            means = [100 * getattr(table[d][a], metric + "_mean") if a in table[d] else np.nan
                     for d in datasets]
            stds = [100 * getattr(table[d][a], metric + "_std") if a in table[d] else 0.0
                    for d in datasets]
            ax.bar(x - 0.4 + width * (k + 0.5), means, width, yerr=stds, capsize=3, label=a)
        ax.set_xticks(x, datasets)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("test error by augmentation (mean ± std over seeds)", fontsize=10)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)


def write_sweep_table(multirun: str | Path, out: str | Path | None = None,
                      augs: Sequence[str] = DEFAULT_AUGS, metric_prefix: str = "test/") -> dict:
    runs, skipped = collect_runs(multirun, metric_prefix)
    for s in skipped:
        log.warning("skipped %s", s)
    if not runs:
        raise ValueError(f"no finished runs (metrics.json with {metric_prefix}cer) under {multirun}")
    table = aggregate(runs)
    cols = aug_columns(table, augs)
    out = Path(out) if out else Path(multirun)
    md = to_markdown(table, cols)
    header = (f"Sweep {Path(multirun).resolve()}: {len(runs)} runs"
              + (f", {len(skipped)} skipped" if skipped else "") + ".\n\n")
    atomic_write_text(out / "sweep_table.md", header + md)
    atomic_write_text(out / "sweep_table.csv", to_csv(table, cols))
    atomic_write_text(out / "sweep_runs.csv", runs_csv(runs))
    plot(table, cols, out / "sweep_table.png")
    return {"runs": len(runs), "skipped": skipped, "table": table, "columns": cols,
            "markdown": md, "out": out}


def run(cfg: DictConfig) -> dict:
    task = cfg.task
    res = write_sweep_table(task.multirun, task.get("out"), list(task.get("augs") or DEFAULT_AUGS),
                            str(task.get("metric_prefix", "test/")))
    print(res["markdown"], flush=True)
    log.info("%d runs; table in %s (sweep_table.md, .csv, .png)", res["runs"], res["out"])
    return res
