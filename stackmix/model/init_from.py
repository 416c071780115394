"""Start a training from a trained model's weights: ``python train.py init_from=<ckpt> alphabet=...``.

As kraken's ``--resize``, the new dataset's alphabet decides what happens to the output layer:

* ``alphabet=union`` (default): the model keeps every class it had and gets new ones for the
  characters of the new train split it did not know (appended, in the dataset's order).
* ``alphabet=new``: the classes are exactly the new dataset's alphabet; characters the model
  knew keep their trained output rows, the others start fresh, the characters the new data
  does not use are dropped.

Every other weight (CNN, BiLSTM, the head's first layer) is copied as is; the network
architecture is the checkpoint's (``model.net`` is taken from it). The optimizer, scheduler and
epoch counter start fresh — this is a new training, not a resume (``resume=`` continues a run).

``model.freeze_backbone=true``: the CNN is frozen for the first ``model.freeze_epochs`` epochs
(only the recurrent head and the output layer learn, so fresh rows do not disturb the features),
then trained with the rest (:func:`freeze_features`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

ALPHABET_MODES = ("union", "new")


class InitFromError(ValueError):
    """The checkpoint cannot initialise this training (missing, not a model, wrong architecture)."""


@dataclass
class InitSource:
    path: Path
    alphabet: str
    net: dict
    image_h: int
    image_w: int
    state_dict: dict


def load_source(path: str | Path) -> InitSource:
    """Read a ``.ckpt`` (or a run folder: its best checkpoint) for :func:`transfer_weights`."""
    from stackmix.checkpoints import resolve_model_path

    try:
        p = resolve_model_path(path)
    except FileNotFoundError as e:
        raise InitFromError(f"init_from: {e}") from None
    if p.suffix.lower() == ".onnx":
        raise InitFromError(f"init_from={p}: an ONNX export has no trainable weights; give the "
                            ".ckpt it was exported from")
    from stackmix.checkpoints import CheckpointError, read_model

    try:
        ckpt = read_model(p)
    except (CheckpointError, OSError) as e:
        raise InitFromError(f"init_from: {e}") from None
    hp = ckpt["hyper_parameters"]
    return InitSource(p, str(hp["alphabet"]), dict(hp["net"]), int(hp.get("image_h", 0)),
                      int(hp.get("image_w", 0)), dict(ckpt["state_dict"]))


def plan_alphabet(old: str, dataset_alphabet: str, mode: str) -> str:
    """The new training's alphabet (see the module docstring)."""
    if mode not in ALPHABET_MODES:
        raise InitFromError(f"alphabet must be one of {', '.join(ALPHABET_MODES)}, got {mode!r}")
    if mode == "new":
        return dataset_alphabet
    return old + "".join(c for c in dataset_alphabet if c not in old)


def _output_keys(state: dict, old_classes: int, module_state: dict, new_classes: int) -> list[str]:
    """Parameters whose first dimension is the class count: the output layer's weight and bias."""
    keys = [k for k, v in state.items()
            if k in module_state and v.ndim >= 1 and v.shape[0] == old_classes
            and module_state[k].shape[0] == new_classes
            and tuple(v.shape[1:]) == tuple(module_state[k].shape[1:])]
    if old_classes == new_classes:
        # same count: only the last layer's parameters are the output (others may share the size)
        last = max((k.rsplit(".", 1)[0] for k in keys), default=None, key=_layer_order(state))
        keys = [k for k in keys if k.rsplit(".", 1)[0] == last]
    return keys


def _layer_order(state: dict):
    order = {k.rsplit(".", 1)[0]: i for i, k in enumerate(state)}
    return lambda name: order.get(name, -1)


def transfer_weights(module: torch.nn.Module, src: InitSource, new_alphabet: str) -> dict:
    """Copy ``src``'s weights into ``module`` (built for ``new_alphabet``); output rows follow the
    characters. Returns counts: ``kept`` (characters keeping their row), ``fresh``, ``dropped``."""
    target = module.state_dict()
    old_c, new_c = len(src.alphabet) + 1, len(new_alphabet) + 1
    out_keys = set(_output_keys(src.state_dict, old_c, target, new_c))
    if not out_keys:
        raise InitFromError(f"init_from={src.path}: no output layer with {old_c} classes found")
    mismatched = [k for k, v in src.state_dict.items()
                  if k not in out_keys and k in target and target[k].shape != v.shape]
    missing = [k for k in target if k not in src.state_dict and k not in out_keys
               and not k.endswith("num_batches_tracked")]
    if mismatched or missing:
        raise InitFromError(
            f"init_from={src.path}: the network differs from this model's "
            f"({len(mismatched)} parameter(s) of another shape, e.g. {mismatched[:3]}; "
            f"{len(missing)} missing, e.g. {missing[:3]}); the checkpoint's model.net is used, so "
            "this means model.net was overridden — drop those overrides")
    old_index = {c: i + 1 for i, c in enumerate(src.alphabet)}
    rows_new = [0] + [i + 1 for i, c in enumerate(new_alphabet) if c in old_index]
    rows_old = [0] + [old_index[c] for c in new_alphabet if c in old_index]
    new_state = {}
    for k, v in src.state_dict.items():
        if k not in target:
            continue
        if k in out_keys:
            t = target[k].clone()
            t[rows_new] = v[rows_old].to(t.dtype)
            new_state[k] = t
        else:
            new_state[k] = v
    module.load_state_dict(new_state, strict=False)
    kept = len(rows_new) - 1
    stats = {"kept": kept, "fresh": len(new_alphabet) - kept,
             "dropped": sum(1 for c in src.alphabet if c not in new_alphabet)}
    log.info("init_from %s: %d characters keep their weights, %d new (fresh rows), %d dropped",
             src.path, stats["kept"], stats["fresh"], stats["dropped"])
    return stats


def freeze_features(module, frozen: bool) -> None:
    """Freeze (or release) ``module.net.features``, the CNN, BatchNorm statistics included: with
    ``model.freeze_backbone=true`` only the BiLSTM and the output head learn during the first
    ``model.freeze_epochs`` epochs (called by ``HTRModule.on_train_epoch_start``)."""
    features = module.net.features
    was = next(features.parameters()).requires_grad
    for p in features.parameters():
        p.requires_grad_(not frozen)
    if frozen:
        features.eval()  # BatchNorm keeps the loaded statistics
    if was == frozen:  # changed
        log.info("model.freeze_backbone: the CNN is %s from epoch %d",
                 "frozen" if frozen else "trained", module.current_epoch)


__all__ = ["ALPHABET_MODES", "InitFromError", "InitSource", "freeze_features", "load_source",
           "plan_alphabet", "transfer_weights"]
