"""Regenerate docs/img/cpu_cer_vs_budget.png: test CER against the training budget, one line per
augmentation, from finished runs of the CPU recipe.

    python docs/img/make_cer_vs_budget.py [--out NAME.png] [--title TEXT] AUG@MINUTES=RUN ...

Each point is ``AUG@MINUTES=RUN``: RUN is a run folder (its ``metrics.json`` gives the test CER)
or a test CER in percent for a run whose folder is gone (quote it from the README's tables).
Several points of one AUG and one budget (seeds) are drawn each and joined at their mean.
``--out`` writes another file of docs/img (default: cpu_cer_vs_budget.png).
"""
import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_cer(source: str) -> float:
    """The test CER in percent of a run folder, or the number given."""
    folder = Path(source)
    if folder.is_dir():
        return 100 * json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["test/cer"]
    try:
        return float(source)
    except ValueError:
        sys.exit(f"{source}: neither a run folder nor a test CER in percent")


args = sys.argv[1:]
name, title = "cpu_cer_vs_budget.png", None
while args[:1] in (["--out"], ["--title"]) and len(args) > 1:
    if args[0] == "--out":
        name = args[1]
    else:
        title = args[1]
    args = args[2:]
if not args:
    sys.exit(__doc__)
points = defaultdict(lambda: defaultdict(list))  # aug -> minutes -> [test CER, ...]
for arg in args:
    key, _, source = arg.partition("=")
    aug, _, minutes = key.partition("@")
    if not source or not minutes:
        sys.exit(f"{arg}: expected AUG@MINUTES=RUN_DIR or AUG@MINUTES=CER")
    points[aug][float(minutes)].append(test_cer(source))

fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
for i, (aug, budgets) in enumerate(points.items()):
    xs = sorted(budgets)
    means = [sum(budgets[x]) / len(budgets[x]) for x in xs]
    (line,) = ax.plot(xs, means, marker="o", label=aug)
    for x in xs:
        if len(budgets[x]) > 1:
            ax.scatter([x] * len(budgets[x]), budgets[x], marker="_", s=120, color=line.get_color())
    for x, mean in zip(xs, means):
        ax.annotate(f"{mean:.1f}", (x, mean), textcoords="offset points", xytext=(5, 3 if i % 2 == 0 else -10), fontsize=7,
                    color=line.get_color())
budgets_all = sorted({x for budgets in points.values() for x in budgets})
ax.set_xscale("log", base=2)
ax.set_xticks(budgets_all, [f"{x:g}" for x in budgets_all])
ax.set_xlabel("training budget (min of wall time, 2-core VM)")
ax.set_ylabel("test CER (%)")
if title:
    ax.set_title(title, fontsize=9)
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(Path(__file__).with_name(name))
print(Path(__file__).with_name(name))
