"""Checkpoint files: written atomically, loaded with ``weights_only=True``.

``AtomicCheckpointIO`` writes every checkpoint to a temporary file in the checkpoint folder and
renames it into place (a killed job never leaves a truncated ``last.ckpt``, and nothing is written
to ``/tmp``); a full disk is an error naming the folder and the bytes. It loads checkpoints with
``weights_only=True``: a checkpoint from elsewhere cannot run code.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from stackmix import checkpoints
from stackmix.checkpoints import CheckpointError
from stackmix.fs import atomic_path

CHECKPOINT_GLOBS = ("checkpoints/*.ckpt", "hpc_ckpt_*.ckpt")


class ResumeError(CheckpointError):
    """``resume=...`` / ``ckpt_path=...`` does not name a usable checkpoint."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to ``.<name>.*.tmp`` next to the target, fsync, then ``os.replace``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        with atomic_path(path, suffix=".ckpt.tmp") as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path, map_location=None, weights_only: bool | None = None) -> dict:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint file not found: {path}")
        # Never unpickle arbitrary objects from a checkpoint, whatever the caller asked for.
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)

    def remove_checkpoint(self, path) -> None:
        Path(path).unlink(missing_ok=True)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", mmap: bool = False) -> dict:
    """Load a checkpoint safely (``weights_only=True``, :func:`stackmix.checkpoints.load`), naming
    the file and what is wrong with it in any error."""
    try:
        return checkpoints.load(path, map_location=map_location, mmap=mmap)
    except CheckpointError as e:
        raise ResumeError(str(e)) from None


class StepCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint(every_n_train_steps=...)`` that never saves on an epoch's last batch.

    A checkpoint taken there is written before that epoch's validation, but Lightning resumes
    from a last-batch checkpoint as if validation had already run: a run killed during that
    validation would skip it (missing from history.json and from best-checkpoint selection) and
    replay the wrong data order. ``last.ckpt``, written after validation, covers that point."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class ExceptionCheckpoint(OnExceptionCheckpoint):
    """``OnExceptionCheckpoint`` (SIGTERM, Ctrl-C, a crash) that a resumed run continues correctly
    when the training was stopped during an epoch's validation.

    Lightning stops validation after a finished batch, and a checkpoint taken then looks to it
    like one taken after that validation: the resumed run would skip the epoch's validation (no
    entry in history.json, no best-checkpoint candidate). The checkpoint's validation progress is
    marked as interrupted inside a batch instead, which Lightning resumes by running that
    validation again from its start."""

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._in_validation = bool(trainer.state.fn == "fit" and trainer.validating
                                   and not trainer.sanity_checking)
        try:
            super().on_exception(trainer, pl_module, exception)
        finally:
            self._in_validation = False

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if getattr(self, "_in_validation", False):
            mark_validation_interrupted(checkpoint)


def mark_validation_interrupted(checkpoint: dict) -> None:
    """Make the fit loop's validation progress read "stopped inside a batch" (started, not yet
    processed), Lightning's condition to run that validation again when resuming."""
    progress = checkpoint.get("loops", {}).get("fit_loop", {}).get(
        "epoch_loop.val_loop.batch_progress")
    if not progress:
        return
    total, current = progress["total"], progress["current"]
    if total["processed"] != total["started"]:
        return  # already inside a batch
    if current["completed"] > 0:  # after a finished batch: that batch is "in progress" again
        keys, change = ("processed", "completed"), -1
    else:  # before its first batch
        keys, change = ("ready", "started"), 1
    for counts in (total, current):
        for key in keys:
            counts[key] += change
