"""Resume policy: which checkpoint ``resume=auto`` / ``resume=<path>`` / ``ckpt_path=`` continue from."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from stackmix.checkpoints import alphabet_mismatch, checkpoint_alphabet
from stackmix.fs import remove_stale_temporaries
from stackmix.training.checkpoint_io import CHECKPOINT_GLOBS, ResumeError, load_checkpoint

log = logging.getLogger(__name__)


def _progress(ckpt: dict) -> tuple:
    """How far a checkpoint got: (global step, epochs trained, validation batches run).

    Epochs trained: ``processed`` (training and validation ran through), not ``completed``, which
    Lightning increments only after the end-of-epoch hooks that write ``last.ckpt``."""
    loops = ckpt.get("loops") or {}
    fit = loops.get("fit_loop") or {}
    epochs = (fit.get("epoch_progress") or {}).get("total", {}).get("processed", 0)
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
        remove_stale_temporaries(Path(output_dir) / "checkpoints")
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


def check_resume_alphabet(path: str | os.PathLike, alphabet: str) -> None:
    """Refuse to resume from a checkpoint trained with another alphabet than the dataset's (its
    output classes would silently stand for other characters), saying what differs."""
    diff = alphabet_mismatch(checkpoint_alphabet(path), alphabet)
    if diff:
        raise ResumeError(
            f"cannot resume from {path}: it was trained with another alphabet than this dataset's "
            f"({diff}). Resume with the dataset and dataset.alphabet of that run, or start a new "
            "run without resume=/ckpt_path=.")


def finished_run(output_dir: str | os.PathLike, ckpt: Path | None, max_epochs: Any,
                 max_steps: Any) -> dict | None:
    """When ``ckpt`` (resumed into ``output_dir``) ends a run that trained its whole budget and
    wrote ``metrics.json``: ``{"message", "metrics"}`` saying so; else None (train or test)."""
    metrics_path = Path(output_dir) / "metrics.json"
    if (ckpt is None or not metrics_path.is_file()
            or not Path(ckpt).resolve().is_relative_to(Path(output_dir).resolve())):
        return None
    try:
        step, epochs, _ = _progress(load_checkpoint(ckpt, mmap=True))
    except ResumeError:
        return None
    budget_epochs = max_epochs not in (None, -1) and epochs >= int(max_epochs)
    budget_steps = max_steps not in (None, -1) and step >= int(max_steps)
    if not (budget_epochs or budget_steps):
        return None
    import json

    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"metrics": metrics, "message": (
        f"{output_dir} is a finished run ({epochs} epochs, step {step}; results in {metrics_path}): "
        "nothing to do, nothing changed. To train longer, raise trainer.max_epochs (the "
        "learning-rate schedule is rebuilt for the new budget); to test again, use "
        "python prepare.py task=evaluate.")}
