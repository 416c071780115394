"""The one-cycle learning-rate schedule, sized by optimizer steps or by a wall-clock budget.

With ``trainer.max_time`` set (a time budget, e.g. one hour on a laptop), the number of steps a run
will make is unknown in advance: the schedule then advances by whichever is further along, the
fraction of steps or the fraction of the time budget, so the warm-up and the final annealing happen
within the budget whatever the machine's speed or the dataset's size.
"""
from __future__ import annotations

from typing import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR


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
