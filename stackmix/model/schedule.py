"""The one-cycle learning-rate schedule, sized by optimizer steps or by a wall-clock budget.

With ``trainer.max_time`` set (a time budget, e.g. one hour on a laptop), the number of steps a run
will make is unknown in advance: the schedule then advances by whichever is further along, the
fraction of steps or the fraction of the time budget, so the warm-up and the final annealing happen
within the budget whatever the machine's speed or the dataset's size.

Resuming with another budget (``ScheduleOnResume``): a checkpoint stores the schedule's total
steps. A run resumed with another budget (``trainer.max_epochs``, ``trainer.max_steps``,
``data.batch_size``, the number of train lines, gradient accumulation) would step past the stored
end ("Tried to step N times"). The schedule's phases are rebuilt for the new total, counted from
the restored step: the run continues at its position on the stretched (or shortened) curve and
ends at the final learning rate when the new budget is spent; extending a finished run with a
larger ``trainer.max_epochs`` works the same way. An unchanged budget leaves the restored schedule
untouched (bit-identical resume). ``hold_at_end`` is the safety net: a schedule never steps past
its last step (the learning rate stays at its final value), so no checkpoint can hold a scheduler
that cannot be resumed.
"""
from __future__ import annotations

import logging
import math
from typing import Callable

import lightning as L
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR

log = logging.getLogger(__name__)


class BudgetOneCycleLR(OneCycleLR):
    """``torch.optim.lr_scheduler.OneCycleLR`` whose position is
    ``max(step, time_fraction() × (total_steps - 1))``.

    ``time_fraction`` returns the elapsed share of the time budget (0..1), or is None for a plain
    step-based schedule (then this class is exactly ``OneCycleLR``). The step counter and the
    scheduler's state dict are those of ``OneCycleLR``; the time fraction comes from the trainer's
    timer, which is itself saved in checkpoints, so a resumed run continues where it stopped.
    """

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int,
                 time_fraction: Callable[[], float] | None = None, **kwargs):
        self._time_fraction = time_fraction
        super().__init__(optimizer, max_lr, total_steps=total_steps, **kwargs)

    def position(self) -> int:
        """The step the schedule is at: the real step, or further along by the time budget."""
        step = self.last_epoch
        if self._time_fraction is None:
            return step
        last = self.total_steps - 1  # the schedule's final step (its minimum rate)
        by_time = int(min(max(self._time_fraction(), 0.0), 1.0) * last)
        return max(step, by_time)

    def get_lr(self):
        real = self.last_epoch
        self.last_epoch = self.position()
        try:
            return super().get_lr()
        finally:
            self.last_epoch = real

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.pop("_time_fraction", None)  # a bound method of the trainer's timer: not saved
        return state


def timer_fraction(trainer) -> Callable[[], float] | None:
    """The elapsed share of ``trainer.max_time`` (Lightning's Timer callback), or None without one."""
    from lightning.pytorch.callbacks import Timer

    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    if timer is None or timer.time_remaining() is None:
        return None

    def fraction() -> float:
        elapsed = timer.time_elapsed()
        total = elapsed + timer.time_remaining()
        return elapsed / total if total > 0 else 1.0

    return fraction


# Steps assumed for the schedule's shape when only a time budget bounds the run: the phases are
# fractions, so this only sets the resolution of the schedule (one value per 1/100000 of it).
NOMINAL_STEPS = 100_000


def total_steps_for(trainer) -> tuple[int, Callable[[], float] | None]:
    """(total steps, time fraction) for a one-cycle schedule on this trainer."""
    import math

    fraction = timer_fraction(trainer)
    steps = trainer.estimated_stepping_batches
    if steps is None or not math.isfinite(steps):
        if fraction is None:
            raise ValueError(
                "the one-cycle learning-rate schedule needs a finite budget: set trainer.max_epochs, "
                "trainer.max_steps or trainer.max_time (e.g. trainer.max_time=00:01:00:00)")
        return NOMINAL_STEPS, fraction
    return max(int(steps), 1), fraction


# --------------------------------------------------------------------------- on resume
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
        if not math.isfinite(trainer.estimated_stepping_batches or math.inf):
            return  # a time budget only: the schedule follows the trainer's timer
        fresh, _ = total_steps_for(trainer)
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
