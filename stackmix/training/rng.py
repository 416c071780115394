"""Random states in checkpoints: ``RNGState`` puts the states of torch (CPU and CUDA), numpy and
``random`` into every checkpoint and restores them when training resumes, so dropout draws continue
as if the run had never stopped. (Data order and augmentation are seeded per sample, see
``stackmix.data.sampler``.)"""
from __future__ import annotations

import random

import lightning as L
import numpy as np
import torch


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
