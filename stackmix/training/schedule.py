"""What a changed training budget means for the learning-rate schedule on resume.

The one-cycle schedule (``OneCycleLR``) is built for a total number of optimizer steps; a
checkpoint stores that total. A run resumed with another budget (``trainer.max_epochs``,
``trainer.max_steps``, ``data.batch_size``, the number of train lines, gradient accumulation)
would step past the stored end and fail ("Tried to step N times"). ``ScheduleOnResume`` rebuilds
the schedule's phases for the new total, counted from the restored step: the run continues at
its position on the stretched (or shortened) curve and ends at the final learning rate exactly
when the new budget is spent. Extending a finished run (``trainer.max_epochs`` larger) works the
same way. An unchanged budget leaves the restored schedule untouched (bit-identical resume).

``hold_at_end`` is the safety net: a schedule never steps past its last step (the learning rate
stays at its final value), so no checkpoint can hold a scheduler that cannot be resumed.
"""
from __future__ import annotations

import logging
import math

import lightning as L
import torch
from torch.optim.lr_scheduler import OneCycleLR

log = logging.getLogger(__name__)


def remaining_steps(trainer) -> int:
    """Optimizer steps the run will still take, at most: whole epochs from the current one on
    (the steps already taken in an interrupted epoch are not subtracted), capped by max_steps."""
    per_epoch = math.ceil(trainer.num_training_batches / max(1, trainer.accumulate_grad_batches))
    epochs = max(0, int(trainer.max_epochs or 0) - int(trainer.current_epoch))
    steps = per_epoch * epochs if trainer.max_epochs not in (None, -1) else 0
    if trainer.max_steps not in (None, -1):
        left = max(0, int(trainer.max_steps) - int(trainer.global_step))
        steps = min(steps, left) if steps else left
    return steps


def stretch_one_cycle(sched: OneCycleLR, total: int) -> None:
    """Give ``sched`` the phases of a one-cycle schedule over ``total`` steps (same shape: warm-up
    fraction, two or three phases, annealing), keep its step count, and set the optimizer's
    learning rate (and momentum) to the value at that step."""
    phases = sched._schedule_phases
    pct_start = (float(phases[0]["end_step"]) + 1.0) / float(sched.total_steps)
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    shape = OneCycleLR(dummy, max_lr=1.0, total_steps=int(total), pct_start=min(pct_start, 1.0),
                       three_phase=len(phases) == 3, cycle_momentum=False)
    sched._schedule_phases = shape._schedule_phases
    sched.total_steps = int(total)
    sched._get_lr_called_within_step = True
    try:
        lrs = sched.get_lr()
    finally:
        sched._get_lr_called_within_step = False
    for group, lr in zip(sched.optimizer.param_groups, lrs):
        group["lr"] = lr
    sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]


class ScheduleOnResume(L.Callback):
    """On resume, fits a restored one-cycle schedule to the current budget (see module doc)."""

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.global_step == 0:
            return  # a new run: configure_optimizers built the schedule for this budget
        fresh = int(trainer.estimated_stepping_batches)
        needed = int(trainer.global_step) + remaining_steps(trainer)
        for cfg in trainer.lr_scheduler_configs:
            sched = cfg.scheduler
            if not isinstance(sched, OneCycleLR) or cfg.interval != "step":
                continue
            if sched.total_steps == fresh:
                continue  # unchanged budget: continue the restored schedule exactly
            if needed <= sched.last_epoch:
                continue  # nothing left to train
            log.warning(
                "resume: the training budget changed (the checkpoint's schedule has %d optimizer "
                "steps, this configuration needs %d: trainer.max_epochs, trainer.max_steps, "
                "data.batch_size or the train data differ); the one-cycle learning-rate schedule "
                "is rebuilt for %d steps and continues at step %d",
                sched.total_steps, needed, needed, sched.last_epoch)
            stretch_one_cycle(sched, needed)


def hold_at_end(scheduler) -> bool:
    """True when ``scheduler`` is at its last step (stepping it again would raise)."""
    total = getattr(scheduler, "total_steps", None)
    return total is not None and scheduler.last_epoch >= total
