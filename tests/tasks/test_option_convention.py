"""One option convention for prepare.py: every task option is `task.<key>`; the short top-level
aliases of task=import (format input out split images) and task=dataset (raw out) set the very
same `task.*` values."""
import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

import stackmix.resolvers  # noqa: F401


def _task(overrides):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=overrides)
    return OmegaConf.to_container(cfg.task, resolve=True)


@pytest.mark.parametrize("task, options", [
    ("import", {"format": "alto", "input": "/in", "out": "/out", "split": "document",
                "images": "/img"}),
    ("dataset", {"raw": "/raw", "out": "/prepared"}),
])
def test_short_aliases_and_task_keys_give_the_same_task(task, options):
    extra = ["dataset=iam"] if task == "dataset" else []
    short = _task([f"task={task}", *extra, *(f"{k}={v}" for k, v in options.items())])
    long = _task([f"task={task}", *extra, *(f"task.{k}={v}" for k, v in options.items())])
    assert short == long
    assert {k: short[k] for k in options} == options
