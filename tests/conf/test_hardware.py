"""stackmix.conf.hardware.set_threads: the `threads` option of train.py and prepare.py."""
import pytest
import torch

from stackmix.conf.hardware import set_threads


def test_threads_sets_torch_and_none_leaves_the_default():
    before = torch.get_num_threads()
    try:
        assert set_threads(None) is None and set_threads(0) is None
        assert torch.get_num_threads() == before
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        assert set_threads("1") == 1
        with pytest.raises(ValueError, match="threads must be a positive number"):
            set_threads(-2)
    finally:
        torch.set_num_threads(before)


def test_prepare_py_applies_threads_before_the_task(monkeypatch, tmp_path):
    """prepare.py threads=1: the task runs with one torch thread (what char_masks uses)."""
    from hydra import compose, initialize_config_module

    import stackmix.tasks as tasks
    from stackmix.cli import prepare

    seen = {}

    class Task:
        @staticmethod
        def run(cfg):
            seen["threads"] = torch.get_num_threads()
            return 0

    monkeypatch.setattr(tasks, "load_task", lambda name: (Task, None))
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=char_masks", "task.ckpt=x", "threads=1",
                                            f"paths.cache_dir={tmp_path}"])
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # so that seeing 1 proves prepare.py set it
    try:
        prepare.hydra_main.__wrapped__(cfg)
    finally:
        torch.set_num_threads(before)
    assert seen == {"threads": 1}
