"""Choosing a decoder's settings on held-out lines: a grid search over, e.g., the beam search's LM
weight and character bonus (``alpha``, ``beta``) scored by CER on the validation split.

The network runs once over the lines; every combination of the grid decodes its output. The
winner is the lowest CER (the first in grid order on a tie). ``python prepare.py task=evaluate
task.tune.split=valid`` uses it to evaluate the test split with settings chosen on valid.
"""
from __future__ import annotations

import copy
import itertools
import logging
from typing import Any, Mapping, Sequence

log = logging.getLogger(__name__)


def with_setting(cfg: Mapping, key: str, value: Any) -> dict:
    """A copy of ``cfg`` with the dotted ``key`` (``alpha``, ``lm.order``) set to ``value``; the
    key must exist, so a typo in a grid is an error, not a setting silently left alone."""
    out = copy.deepcopy(dict(cfg))
    node = out
    *parents, last = key.split(".")
    for p in parents:
        if not isinstance(node.get(p), Mapping):
            raise ValueError(f"task.tune.grid: {key!r} is not a setting of this decoder "
                             f"(its settings: {', '.join(sorted(cfg))})")
        node[p] = dict(node[p])
        node = node[p]
    if last not in node:
        raise ValueError(f"task.tune.grid: {key!r} is not a setting of this decoder "
                         f"(its settings: {', '.join(sorted(k for k in node if not k.startswith('_')))})")
    node[last] = value
    return out


def grid_settings(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order: ``{alpha: [a, b], beta: [c]}`` →
    ``[{alpha: a, beta: c}, {alpha: b, beta: c}]``. Nested mappings give dotted keys
    (``{lm: {order: [5, 7]}}`` → ``lm.order``, as ``+task.tune.grid.lm.order=[5,7]`` writes it)."""
    grid = flatten(grid)
    keys = list(grid)
    for k in keys:
        if isinstance(grid[k], (str, bytes)) or not isinstance(grid[k], Sequence) or not grid[k]:
            raise ValueError(f"task.tune.grid.{k} must be a non-empty list of values, got {grid[k]!r}")
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def flatten(grid: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in grid.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def tune_decoder(recognizer, samples: Sequence[Any], base: Mapping, grid: Mapping[str, Sequence],
                 train_texts: Sequence[str] | None = None, batch_size: int = 16,
                 num_workers: int = 0, progress: bool = False) -> tuple[dict, list[dict]]:
    """The decoder config ``base`` with the grid's best settings on ``samples``, and one row per
    combination (its settings, CER, WER), best first."""
    from stackmix.inference.decoder_factory import build_decoder
    from stackmix.inference.evaluation import corpus_metrics, evaluate_samples

    combos = grid_settings(grid)
    configs = []
    for settings in combos:
        cfg = dict(base)
        for k, v in settings.items():
            cfg = with_setting(cfg, k, v)
        configs.append(cfg)
    decoders = {str(i): build_decoder(cfg, recognizer.alphabet, train_texts=train_texts)
                for i, cfg in enumerate(configs)}
    results = evaluate_samples(recognizer, samples, decoders, batch_size=batch_size,
                               num_workers=num_workers, progress=progress)
    rows = []
    for i, settings in enumerate(combos):
        lines = results[str(i)]
        m = corpus_metrics([r["text"] for r in lines], [r["prediction"] for r in lines])
        rows.append({**settings, "cer": m["cer"], "wer": m["wer"], "_i": i})
    rows.sort(key=lambda r: (r["cer"], r["_i"]))
    best = configs[rows[0]["_i"]]
    for r in rows:
        del r["_i"]
    return best, rows
