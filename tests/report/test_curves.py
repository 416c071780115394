"""The training curves figure: whole-number epoch ticks, plain numbers on the log axis."""
import re

from stackmix.report import curves_figure, plot_curves


def _labels(fig):
    fig.canvas.draw()
    ax1, ax2 = fig.axes
    x = [t.get_text() for ax in (ax1, ax2) for t in ax.get_xticklabels()]
    y = [t.get_text() for t in ax1.get_yticklabels(which="both") if t.get_text()]
    return x, y


def test_short_run_gets_integer_epochs_and_plain_log_labels(tmp_path):
    epochs = [{"epoch": e, "train/loss_epoch": 4.0 - e, "val/loss": 3.6 - e, "val/cer": 0.9 - e / 10}
              for e in range(3)]
    fig = curves_figure(epochs)
    xs, ys = _labels(fig)
    assert xs and all(re.fullmatch(r"−?\d+", t) for t in xs), xs  # no 0.5, 1.5 ...
    assert ys and not [t for t in ys if "times" in t or "×" in t or "^" in t or "$" in t], ys
    assert all(re.fullmatch(r"[\d.]+", t) for t in ys), ys
    plot_curves(epochs, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000
