"""End-of-run artefacts of a training run: the history callback (``history.json``), the curves
figure (``curves.png``), the summary table and ``metrics.json``, the test predictions CSV."""
from stackmix.report.curves import curves_figure, plot_curves
from stackmix.report.history import TrainingHistory
from stackmix.report.summary import summary_table, write_metrics, write_predictions

__all__ = ["TrainingHistory", "curves_figure", "plot_curves", "summary_table", "write_metrics",
           "write_predictions"]
