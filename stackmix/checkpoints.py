"""Which checkpoint, and reading it safely: the one home of checkpoint resolution.

- :func:`load`: ``torch.load(..., weights_only=True)`` with an error that says what is wrong with
  the file (damaged, or not a checkpoint of this project), never advice to unpickle it unsafely.
- :func:`read_model`: :func:`load` + a check that the file is a model of this project (its
  hyper-parameters carry the alphabet and input size).
- "Best" checkpoint: lower validation CER, then lower validation loss, then the later step
  (:func:`selection_key`). :class:`BestCheckpoint` applies it while training (so a run whose
  every epoch reads CER 1.0 does not keep epoch 0), :func:`best_checkpoint` when choosing among
  the ``best-*.ckpt`` files of a run folder, :func:`resolve_model_path` for "a file or a run
  folder" arguments (``task.ckpt=``, ``predict.py ckpt=``).
- :func:`alphabet_mismatch`: how a checkpoint's alphabet differs from a dataset's (resume,
  char masks). Which checkpoint a training *resumes* from is :mod:`stackmix.training.resume`.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)

BEST_GLOB = "best-*.ckpt"
MODEL_KEYS = ("alphabet", "image_h", "image_w", "net")


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or not a checkpoint of this project."""


# --------------------------------------------------------------------------- reading
def _reason(e: BaseException) -> str:
    """A short cause for a failed safe load, without PyTorch's hint to load unsafely."""
    text = str(e)
    if isinstance(e, pickle.UnpicklingError) or "weights_only" in text:
        return ("it holds Python objects that a safe load (weights only) refuses, so it was not "
                "written by this project")
    first = text.splitlines()[0].strip() if text else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def load(path: str | os.PathLike, map_location: Any = "cpu", mmap: bool = False) -> dict:
    """A checkpoint as a dict, loaded with ``weights_only=True`` (never arbitrary code).

    Raises :class:`CheckpointError` naming the file when it is missing, truncated or otherwise
    damaged, or not a PyTorch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): the file is damaged, e.g. a copy or a "
                              "save that was interrupted; use another checkpoint of the run")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - truncated zip, foreign pickle, I/O error
        raise CheckpointError(
            f"cannot read {path}: the file is damaged (e.g. truncated by an interrupted copy or a "
            f"full disk) or is not a checkpoint of this project ({_reason(e)})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} is not a checkpoint of this project (it holds a "
                              f"{type(ckpt).__name__}, not a Lightning checkpoint)")
    return ckpt


def read_model(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """:func:`load` + a check that it is a model of this project (weights and the
    hyper-parameters the recognizer needs)."""
    ckpt = load(path, map_location=map_location)
    hp = ckpt.get("hyper_parameters")
    missing = [k for k in MODEL_KEYS if not isinstance(hp, dict) or k not in hp]
    if "state_dict" not in ckpt or missing:
        what = "no weights" if "state_dict" not in ckpt else f"no {', '.join(missing)}"
        raise CheckpointError(f"{path} is not a checkpoint of this project ({what} in it): give "
                              "a .ckpt written by `python train.py` or its run folder")
    return ckpt


def checkpoint_alphabet(path: str | os.PathLike) -> str:
    """The alphabet a checkpoint was trained with (read memory-mapped: quick)."""
    hp = load(path, mmap=True).get("hyper_parameters") or {}
    if "alphabet" not in hp:
        raise CheckpointError(f"{path} is not a checkpoint of this project (no alphabet in it)")
    return str(hp["alphabet"])


def alphabet_mismatch(ckpt_alphabet: str, data_alphabet: str) -> str | None:
    """How two alphabets differ (class ``i + 1`` is character ``i``), or None when they are
    equal."""
    if ckpt_alphabet == data_alphabet:
        return None
    only_ckpt = "".join(c for c in ckpt_alphabet if c not in data_alphabet)
    only_data = "".join(c for c in data_alphabet if c not in ckpt_alphabet)
    parts = [f"the checkpoint has {len(ckpt_alphabet)} characters, the dataset "
             f"{len(data_alphabet)}"]
    if only_ckpt:
        parts.append(f"only in the checkpoint: {only_ckpt!r}")
    if only_data:
        parts.append(f"only in the dataset: {only_data!r}")
    if not only_ckpt and not only_data:
        moved = [c for i, c in enumerate(data_alphabet) if ckpt_alphabet[i] != c]
        parts.append(f"same characters in another order ({len(moved)} classes would change "
                     f"meaning, e.g. {moved[:5]!r})")
    return "; ".join(parts)


# --------------------------------------------------------------------------- "best"
def selection_key(cer: float | None, loss: float | None, step: int) -> tuple:
    """Sort key of the "best" checkpoint (smallest wins): validation CER, then validation loss,
    then the later optimizer step. Missing or NaN values count as +inf."""
    def num(v):
        v = float("inf") if v is None else float(v)
        return float("inf") if math.isnan(v) else v
    return (num(cer), num(loss), -int(step))


class BestCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` on ``val/cer`` (mode min) with :func:`selection_key`'s tie-break.

    Lightning keeps the first of equal scores, so a run whose every validation reads CER 1.0
    (not yet out of CTC's all-blank phase) would call epoch 0 its best; here an equal CER goes to
    the lower ``tiebreak`` metric (validation loss), then to the later step.
    """

    def __init__(self, *args, tiebreak: str = "val/loss", **kwargs):
        super().__init__(*args, **kwargs)
        self.tiebreak = tiebreak
        self.keys: dict[str, tuple] = {}  # saved file -> selection key
        self.current_loss: float | None = None

    def _key(self, trainer, current) -> tuple:
        loss = trainer.callback_metrics.get(self.tiebreak)
        return selection_key(current, None if loss is None else float(loss), trainer.global_step)

    def check_monitor_top_k(self, trainer, current=None) -> bool:
        if current is None or self.mode != "min":
            return super().check_monitor_top_k(trainer, current)
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        kth = self.kth_best_model_path
        old = self.keys.get(kth) or selection_key(self.best_k_models[kth], None, -1)
        better = self._key(trainer, current) < old
        return trainer.strategy.reduce_boolean_decision(bool(better))

    def _update_best_and_save(self, current, trainer, monitor_candidates) -> None:
        key = self._key(trainer, current)
        self.current_loss = key[1] if math.isfinite(key[1]) else None
        before = set(self.best_k_models)
        super()._update_best_and_save(current, trainer, monitor_candidates)
        for path in set(self.best_k_models) - before:
            self.keys[path] = key
        self.keys = {p: k for p, k in self.keys.items() if p in self.best_k_models}
        if self.mode == "min" and self.keys:
            scored = [p for p in self.best_k_models if p in self.keys]
            if len(scored) == len(self.best_k_models):
                self.best_model_path = min(scored, key=self.keys.get)
                self.best_model_score = self.best_k_models[self.best_model_path]
                if len(scored) >= self.save_top_k > 0:
                    self.kth_best_model_path = max(scored, key=self.keys.get)
                    self.kth_value = self.best_k_models[self.kth_best_model_path]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["selection_keys"] = {p: list(k) for p, k in self.keys.items()}
        state["current_loss"] = self.current_loss
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        keys = state_dict.get("selection_keys") or {}
        self.keys = {p: tuple(k) for p, k in keys.items() if p in self.best_k_models}


def _stored_key(path: Path) -> tuple:
    """The selection key a ``best-*.ckpt`` was saved with (its callback state; else the CER in
    its name and its step)."""
    ckpt = load(path, mmap=True)
    step = int(ckpt.get("global_step", 0))
    for state in (ckpt.get("callbacks") or {}).values():
        if isinstance(state, dict) and state.get("monitor") == "val/cer" \
                and state.get("current_score") is not None:
            return selection_key(float(state["current_score"]), state.get("current_loss"), step)
    cer = None
    if "-cer" in path.stem:
        try:
            cer = float(path.stem.rsplit("-cer", 1)[1])
        except ValueError:
            pass
    return selection_key(cer, None, step)


def best_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The best ``best-*.ckpt`` of a run folder (or its ``checkpoints/``) by :func:`selection_key`;
    None when there is none. Unreadable files are skipped with a warning."""
    p = Path(run_dir)
    ck = p / "checkpoints" if (p / "checkpoints").is_dir() else p
    found = sorted(ck.glob(BEST_GLOB))
    if len(found) <= 1:
        return found[0] if found else None
    keyed = []
    for f in found:
        try:
            keyed.append((_stored_key(f), f))
        except CheckpointError as e:
            log.warning("ignoring %s", e)
    return min(keyed)[1] if keyed else None


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A model file as given, or a training run folder → its best checkpoint
    (:func:`best_checkpoint`), else its ``last.ckpt``."""
    p = Path(str(path)).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        ck = p / "checkpoints" if (p / "checkpoints").is_dir() else p
        best = best_checkpoint(p)
        if best is not None:
            return best
        if (ck / "last.ckpt").is_file():
            return ck / "last.ckpt"
        raise FileNotFoundError(f"no best-*.ckpt or last.ckpt in {ck}")
    raise FileNotFoundError(f"model file not found: {p}")
