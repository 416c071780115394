import pytest
import torch
from torch.optim.lr_scheduler import OneCycleLR

from stackmix.model.schedule import BudgetOneCycleLR


def _opt():
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)


def _lrs(sched, steps):
    out = []
    for _ in range(steps):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_without_a_time_budget_it_is_torch_one_cycle():
    kw = dict(max_lr=3e-3, total_steps=50, pct_start=0.2, final_div_factor=1e4)
    ours, ref = BudgetOneCycleLR(_opt(), **kw), OneCycleLR(_opt(), **kw)
    assert _lrs(ours, 49) == pytest.approx(_lrs(ref, 49))


def test_time_budget_moves_the_schedule_ahead_of_the_steps():
    elapsed = {"f": 0.0}
    kw = dict(max_lr=3e-3, total_steps=1000, pct_start=0.2, final_div_factor=1e4)
    sched = BudgetOneCycleLR(_opt(), time_fraction=lambda: elapsed["f"], **kw)
    ref = OneCycleLR(_opt(), **kw)
    _lrs(sched, 3)
    elapsed["f"] = 0.2  # a fifth of the time gone after 4 steps: at the peak
    assert _lrs(sched, 1)[0] == pytest.approx(3e-3, rel=1e-3)
    elapsed["f"] = 0.5  # halfway through the budget: the rate of step 499 of the step schedule
    ref_lrs = _lrs(ref, 500)
    assert _lrs(sched, 1)[0] == pytest.approx(ref_lrs[498], rel=1e-6)
    elapsed["f"] = 1.3  # over the budget (the last steps before the trainer stops): the final rate
    final = _lrs(sched, 1)[0]
    assert final == pytest.approx(3e-3 / 25 / 1e4, rel=1e-6)
    assert sched.last_epoch == 6  # the step counter itself is untouched
    state = sched.state_dict()
    assert "_time_fraction" not in state


def test_step_count_wins_when_it_is_further_along():
    sched = BudgetOneCycleLR(_opt(), max_lr=1e-2, total_steps=10, time_fraction=lambda: 0.0)
    ref = OneCycleLR(_opt(), max_lr=1e-2, total_steps=10)
    assert _lrs(sched, 9) == pytest.approx(_lrs(ref, 9))
