"""Regenerate docs/img/cpu_budget.png: validation CER against training time for runs of the CPU
recipe, read from their run folders (`history.json` for the CER per validation, `metrics.json`
for the wall time and the number of optimizer steps).

    python docs/img/make_cpu_budget.py [--out NAME.png] LABEL=RUN_DIR [LABEL=RUN_DIR ...]

``--out`` writes another file of docs/img (default: cpu_budget.png).
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

args = sys.argv[1:]
name = "cpu_budget.png"
if args[:1] == ["--out"] and len(args) > 1:
    name, args = args[1], args[2:]
out = Path(__file__).with_name(name)
runs = [arg.rsplit("=", 1) for arg in args]  # a label may hold "="
if not runs:
    sys.exit(__doc__)
many = len(runs) > 5  # then the legend goes beside the plot, not over the curves
fig, ax = plt.subplots(figsize=(9.6 if many else 6.4, 3.6), dpi=100)
for label, folder in runs:
    folder = Path(folder)
    history = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    points = [(h["step"], h["val/cer"]) for h in history if "val/cer" in h]
    last_step = max(step for step, _ in points)
    # steps -> minutes at the run's mean pace (the run is time-budgeted, so its pace is even)
    minutes_per_step = metrics["wall_time_s"] / 60 / last_step
    ax.plot([s * minutes_per_step for s, _ in points], [100 * c for _, c in points], marker=".",
            label=f"{label}: test CER {100 * metrics['test/cer']:.1f} %")
ax.set_xlabel("training time (min, 2-core VM)")
ax.set_ylabel("validation CER (%)")
ax.set_ylim(20 if many else 0, 102)
ax.grid(alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8) if many else ax.legend()
fig.tight_layout()
fig.savefig(out)
print(out)
