"""Surviving faults: atomic checkpoint files, resumable training state, preemption.

* ``AtomicCheckpointIO`` writes every checkpoint to a temporary file in the checkpoint folder and
  renames it into place (a killed job never leaves a truncated ``last.ckpt``, and nothing is
  written to ``/tmp``); it loads checkpoints with ``weights_only=True``.
* ``RNGState`` puts the random states of torch (CPU and CUDA), numpy and ``random`` into every
  checkpoint and restores them when training resumes, so dropout draws continue as if the run had
  never stopped. (Data order and augmentation are seeded per sample, see ``stackmix.data.sampler``.)
* ``find_resume_checkpoint`` picks the most advanced readable checkpoint of a run folder
  (``resume=auto``).
"""
from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from stackmix.io import atomic_path

log = logging.getLogger(__name__)

CHECKPOINT_GLOBS = ("checkpoints/*.ckpt", "hpc_ckpt_*.ckpt")


class ResumeError(ValueError):
    """``resume=...`` / ``ckpt_path=...`` does not name a usable checkpoint."""


# --------------------------------------------------------------------------- checkpoint files
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
    """Load a checkpoint safely (``weights_only=True``), naming the file in any error."""
    path = Path(path)
    if not path.is_file():
        raise ResumeError(f"checkpoint file not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - truncated zip, foreign pickle, ...
        raise ResumeError(
            f"cannot load checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None


# --------------------------------------------------------------------------- random states
def rng_state() -> dict:
    """Every random state the training process draws from, as plain tensors/ints (so the
    checkpoint still loads with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": _py_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        s = state["numpy"]
        np.random.set_state(("MT19937", s["keys"].numpy().astype(np.uint32), s["pos"],
                             s["has_gauss"], s["gauss"]))
    if "python" in state:
        random.setstate(_py_state_from_plain(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def _py_state_to_plain(s: tuple) -> list:
    version, internal, gauss = s
    return [version, list(internal), gauss]


def _py_state_from_plain(s: list) -> tuple:
    version, internal, gauss = s
    return (version, tuple(internal), gauss)


class RNGState(L.Callback):
    """Saves the global random states in each checkpoint; restores them when training resumes.

    The states are applied in ``on_train_start``: after the checkpoint is loaded, the sanity check
    has run (it isolates its own randomness) and the data loaders exist (they draw from their own
    generators), i.e. right where the interrupted run was when it wrote the checkpoint.
    """

    def __init__(self):
        self._pending: dict | None = None

    @property
    def state_key(self) -> str:
        return "RNGState"

    def state_dict(self) -> dict:
        return rng_state()

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = dict(state_dict) if state_dict else None

    def on_train_start(self, trainer, pl_module) -> None:
        if self._pending is not None:
            set_rng_state(self._pending)
            self._pending = None


# --------------------------------------------------------------------------- resume
def _progress(ckpt: dict) -> tuple:
    """How far a checkpoint got: (global step, epochs finished, validation batches run)."""
    loops = ckpt.get("loops") or {}
    fit = loops.get("fit_loop") or {}
    epochs = (fit.get("epoch_progress") or {}).get("total", {}).get("completed", 0)
    try:
        val = fit["epoch_loop.val_loop.batch_progress"]["total"]["completed"]
    except (KeyError, TypeError):
        val = 0
    return int(ckpt.get("global_step", 0)), int(epochs), int(val)


def checkpoint_candidates(run_dir: str | os.PathLike) -> list[Path]:
    run_dir = Path(run_dir)
    found: set[Path] = set()
    for pattern in CHECKPOINT_GLOBS:
        found.update(p for p in run_dir.glob(pattern) if p.is_file())
    return sorted(found)


def find_resume_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint of ``run_dir`` that got furthest (then the newest), or None if there is none.

    Looks at ``checkpoints/*.ckpt`` (``last.ckpt``, the periodic ``step.ckpt``, ``on_exception.ckpt``
    written on SIGTERM or a crash, ``best-*.ckpt``) and SLURM's ``hpc_ckpt_*.ckpt``. Files that do
    not load (truncated, foreign) are skipped with a warning. Only the small metadata is read
    (memory-mapped), so this is quick even for large checkpoints.
    """
    best: tuple | None = None
    best_path: Path | None = None
    for p in checkpoint_candidates(run_dir):
        try:
            ckpt = load_checkpoint(p, mmap=True)
        except ResumeError as e:
            log.warning("ignoring unreadable checkpoint: %s", e)
            continue
        if "optimizer_states" not in ckpt or "loops" not in ckpt:
            log.warning("ignoring %s: it holds weights only, not a training state", p)
            continue
        key = (*_progress(ckpt), p.stat().st_mtime_ns)
        del ckpt
        if best is None or key > best:
            best, best_path = key, p
    return best_path


def resolve_resume(resume: Any, ckpt_path: Any, output_dir: str | os.PathLike) -> Path | None:
    """The checkpoint to resume from, given the ``resume`` and ``ckpt_path`` config keys.

    * ``ckpt_path=<file>``: that checkpoint (full training state).
    * ``resume=auto``: the most advanced checkpoint of this run's own folder (``paths.output_dir``,
      i.e. ``hydra.run.dir``), or a new run if it has none yet — so one command line serves the
      first start and every restart after a kill or preemption.
    * ``resume=<file.ckpt>``: that checkpoint; ``resume=<run folder>``: its most advanced one.
    """
    if ckpt_path not in (None, ""):
        p = Path(str(ckpt_path)).expanduser()
        if not p.is_file():
            raise ResumeError(f"ckpt_path={ckpt_path}: no such checkpoint file")
        return p
    if resume in (None, "", False):
        return None
    if str(resume) == "auto":
        found = find_resume_checkpoint(output_dir)
        if found is None:
            log.info("resume=auto: no checkpoint in %s yet, starting a new run", output_dir)
        return found
    p = Path(str(resume)).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        found = find_resume_checkpoint(p)
        if found is None:
            raise ResumeError(
                f"resume={resume}: no usable checkpoint under {p}/checkpoints. "
                "Use resume=auto to start a new run when there is none.")
        return found
    raise ResumeError(f"resume={resume}: not 'auto', a checkpoint file or a run folder")
