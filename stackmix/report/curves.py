"""The training curves figure: train/valid CTC loss (log scale) and valid CER per epoch.

Epoch ticks are whole numbers (a short run would otherwise get 0.5, 1.5, ...), and the log axis
is labelled with plain numbers (``3``, ``0.5``) rather than ``3.3×10⁰``.
"""
from __future__ import annotations

from pathlib import Path

from stackmix.fs import atomic_save_figure


def _plain(value: float, _pos=None) -> str:
    return f"{value:.3g}"


def curves_figure(epochs: list[dict]):
    """A matplotlib figure of the curves of ``epochs`` (rows of ``history.json``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("train/loss_epoch", "train loss"), ("val/loss", "valid loss")):
        pts = [(e["epoch"], e[key]) for e in epochs if key in e]
        if pts:
            ax1.plot(*zip(*pts), marker="o", ms=3, label=label)
    ax1.set_xlabel("epoch"), ax1.set_ylabel("CTC loss"), ax1.set_yscale("log")
    if ax1.lines:
        ax1.legend()
    ax1.yaxis.set_major_formatter(FuncFormatter(_plain))
    # minor ticks of a log axis spanning less than a decade would be labelled 3.3×10⁰ ...
    ax1.yaxis.set_minor_formatter(FuncFormatter(_plain) if _short_log_range(ax1)
                                  else NullFormatter())
    pts = [(e["epoch"], 100 * e["val/cer"]) for e in epochs if "val/cer" in e]
    if pts:
        ax2.plot(*zip(*pts), marker="o", ms=3, color="tab:red")
    ax2.set_xlabel("epoch"), ax2.set_ylabel("valid CER, %")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _short_log_range(ax) -> bool:
    lo, hi = ax.get_ylim()
    return lo > 0 and hi / lo < 10


def plot_curves(epochs: list[dict], path: str | Path) -> None:
    """Write :func:`curves_figure` to ``path`` (PNG, atomically)."""
    import matplotlib.pyplot as plt

    fig = curves_figure(epochs)
    atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
