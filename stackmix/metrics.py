"""Corpus-level recognition metrics (torchmetrics): CER, WER and string accuracy.

CER is total character edits ÷ total reference characters over the whole split (not an average
of per-line or per-batch rates); WER likewise over words. States are sums, so they reduce
correctly across DDP ranks.
"""
from __future__ import annotations

import torch
from rapidfuzz.distance import Levenshtein
from torchmetrics import Metric, MetricCollection
from torchmetrics.text import CharErrorRate, WordErrorRate


class StringAccuracy(Metric):
    """Fraction of lines whose prediction equals the reference exactly."""

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: list[str], target: list[str]) -> None:
        if len(preds) != len(target):
            raise ValueError(f"{len(preds)} predictions for {len(target)} references")
        self.correct += sum(int(p == t) for p, t in zip(preds, target))
        self.total += len(target)

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.total.clamp(min=1)


def text_metrics(prefix: str) -> MetricCollection:
    return MetricCollection(
        {"cer": CharErrorRate(), "wer": WordErrorRate(), "acc": StringAccuracy()},
        prefix=prefix,
    )


def line_cer(reference: str, prediction: str) -> float:
    """CER of one line: Levenshtein distance ÷ reference length (rapidfuzz). An empty reference
    scores 1 for a non-empty prediction, else 0. The one per-line CER of the project; corpus
    figures come from :func:`text_metrics` (never an average of these)."""
    if not reference:
        return float(len(prediction) > 0)
    return Levenshtein.distance(reference, prediction) / len(reference)
