"""Checkpoint bookkeeping that decides what a resumed run does (fast: no training)."""
from __future__ import annotations

import copy

from lightning.pytorch.loops.progress import _BatchProgress

from stackmix.training.checkpoint_io import mark_validation_interrupted
from stackmix.training.resume import _progress


def counts(n: int) -> dict:
    return {"ready": n, "started": n, "processed": n, "completed": n}


def checkpoint(val_total: int, val_current: int) -> dict:
    val = {"total": counts(val_total), "current": counts(val_current), "is_last_batch": False}
    return {"global_step": 6, "loops": {"fit_loop": {
        "epoch_progress": {"total": {"ready": 1, "started": 1, "processed": 0, "completed": 0},
                           "current": {"ready": 1, "started": 1, "processed": 0, "completed": 0}},
        "epoch_loop.val_loop.batch_progress": val}}}


def lightning_resumes_mid_validation(ckpt: dict) -> bool:
    """Lightning's own test (``_EvaluationLoop.update_restart_stage``) on the restored progress."""
    progress = _BatchProgress()
    progress.load_state_dict(ckpt["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"])
    t = progress.total
    return t.started == t.ready and t.processed == t.started - 1 and t.completed == t.processed


def test_a_validation_stopped_after_a_batch_is_resumed_from_its_start():
    # SIGTERM is acted on after a finished batch: Lightning would take that for a finished
    # validation and skip it when resuming
    for total, current in ((3, 1), (3, 0)):  # after its first batch; before any batch
        ckpt = checkpoint(total, current)
        assert not lightning_resumes_mid_validation(ckpt)
        mark_validation_interrupted(ckpt)
        assert lightning_resumes_mid_validation(ckpt)
        before = copy.deepcopy(ckpt)
        mark_validation_interrupted(ckpt)  # already inside a batch: unchanged
        assert ckpt == before


def test_epochs_trained_counts_an_epoch_whose_end_of_epoch_hooks_wrote_the_checkpoint():
    # last.ckpt of a 3-epoch run: written in the end-of-epoch hooks, before Lightning counts the
    # epoch as completed; the finished-run check must see 3 epochs
    ckpt = {"global_step": 24, "loops": {"fit_loop": {"epoch_progress": {"total": {
        "ready": 3, "started": 3, "processed": 3, "completed": 2}}}}}
    assert _progress(ckpt)[:2] == (24, 3)
