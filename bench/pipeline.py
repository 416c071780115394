#!/usr/bin/env python
"""Lines/s of the training DataLoader for each `aug` and each number of workers (no GPU needed).

Lines are served exactly as in training: from the memory-mapped image cache, resized to
128×2048 (``--height/--width``), augmented (base / blots), StackMix replacing 80 % of them,
collated into uint8 batches. ``--workers 0`` is the main process alone; ``--workers 0 2 4``
measures each count in turn (start-up excluded).

    python bench/pipeline.py                                # poilus if present, else synthetic
    python bench/pipeline.py --augs blots_stackmix --workers 1 2 --step-rate 319
    python bench/pipeline.py --dataset synthetic --workers 0 2 --augs base blots_stackmix

``--step-rate R`` (samples/s of the training step, e.g. from ``bench/train_step.py``) adds, per
aug, the number of workers the loader needs to keep up with it: the smallest measured count that
delivers ≥ R, else R ÷ (the best measured lines/s per worker), rounded up, which assumes one free
core per worker (on a machine with fewer cores than workers the measured counts stop scaling).

StackMix needs a token bank: ``--bank PREFIX`` uses one built with ``prepare.py task=stackmix``;
without it the bench builds one from the synthetic dataset's true character extents (no model
needed, see ``bench/stackmix_gen.py``) in a temporary folder.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import cv2
import torch
from hydra import compose, initialize_config_module

from stackmix import resolvers  # noqa: F401
from stackmix.data.datamodule import HTRDataModule
from stackmix.mix import build_generator
from stackmix.mix.bank_build import build_bank, default_height
from stackmix_gen import synthetic_true_masks

AUGS = ["none", "base", "blots", "stackmix", "blots_stackmix"]


def compose_cfg(dataset: str, aug: str, tmp: str, extra: list[str]):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("train", overrides=[f"dataset={dataset}", f"aug={aug}",
                                           f"paths.output_dir={tmp}", *extra])


def synthetic_bank(tmp: str, height: int, overrides: list[str]) -> str:
    """A bank built from the synthetic dataset's true character extents, at most ``height`` px
    high (the lines' own height when lower, as ``prepare.py task=stackmix`` does)."""
    masks = synthetic_true_masks(overrides)
    masks.meta["image_h"] = height
    prefix = Path(tmp) / "bank" / "synthetic"
    s = build_bank(masks, prefix, height=default_height(masks), root=masks.root)
    print(f"bank     {s.lines} synthetic train lines (true character extents), "
          f"{default_height(masks)} px, {s.spans} spans", flush=True)
    return str(prefix)


def measure(dataset: str, aug: str, workers: int, batches: int, batch_size: int, bank: str | None,
            tmp: str, size: tuple[int, int], overrides: list[str]) -> float:
    extra = [f"dataset.image_h={size[0]}", f"dataset.image_w={size[1]}", *overrides]
    if "stackmix" in aug:
        extra.append(f"aug.stackmix.bank={bank}")
    cfg = compose_cfg(dataset, aug, tmp, extra)
    dm = HTRDataModule(cfg.dataset, aug=cfg.aug, batch_size=batch_size, num_workers=workers,
                       seed=0, cache_images=True, cache_dir=cfg.paths.cache_dir,
                       time_steps=256, persistent_workers=False,
                       stackmix_factory=build_generator)
    loader = dm.train_dataloader()
    it = iter(loader)
    for _ in range(max(1, workers)):  # start-up (worker spawn, cache open, first batches) excluded
        next(it)
    n, t0 = 0, time.perf_counter()
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        n += len(batch["texts"])
    rate = n / (time.perf_counter() - t0)
    del it, loader
    return rate


def workers_needed(rates: dict[int, float], step_rate: float) -> tuple[int, str]:
    """Workers that keep up with ``step_rate`` samples/s given measured ``{workers: lines/s}``."""
    enough = sorted(w for w, r in rates.items() if r >= step_rate)
    if enough:
        return max(enough[0], 1), f"measured: {enough[0]} delivers {rates[enough[0]]:.0f} lines/s"
    per = {w: r / max(w, 1) for w, r in rates.items()}
    w_best = max(per, key=per.get)
    need = math.ceil(step_rate / per[w_best])
    return need, (f"extrapolated from {per[w_best]:.0f} lines/s per worker measured with "
                  f"{w_best} worker(s); one free core per worker assumed")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=None, help="poilus (default when present) or synthetic")
    p.add_argument("--augs", nargs="+", default=AUGS, choices=AUGS)
    p.add_argument("--workers", type=int, nargs="+", default=[0],
                   help="worker counts to measure (0: the main process)")
    p.add_argument("--batches", type=int, default=20, help="timed batches per measurement")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--step-rate", type=float, default=None,
                   help="samples/s of the training step to keep up with")
    p.add_argument("--bank", default=None, help="prefix of a StackMix bank (default: built from synthetic)")
    p.add_argument("--override", nargs="*", default=[],
                   help="extra Hydra overrides for every composed config (e.g. paths.cache_dir=...)")
    args = p.parse_args()
    if any(w < 0 for w in args.workers):
        p.error("--workers: counts must be >= 0")
    if args.step_rate is not None and args.step_rate <= 0:
        p.error("--step-rate must be > 0")
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset is None:
            cfg = compose_cfg("poilus", "none", tmp, args.override)
            args.dataset = "poilus" if (Path(cfg.dataset.root) / "marking.csv").is_file() else "synthetic"
        bank = args.bank
        if bank is None and any("stackmix" in a for a in args.augs):
            bank = synthetic_bank(tmp, args.height, args.override)
        size = (args.height, args.width)
        for aug in args.augs:
            rates: dict[int, float] = {}
            for w in args.workers:
                rates[w] = measure(args.dataset, aug, w, args.batches, args.batch_size, bank, tmp,
                                   size, args.override)
                who = "main process (0 workers)" if w == 0 else f"{w} worker" + "s" * (w > 1)
                print(f"pipeline dataset={args.dataset} {size[0]}x{size[1]} aug={aug} "
                      f"bs={args.batch_size} {who}: {rates[w]:.1f} lines/s", flush=True)
            if args.step_rate is not None:
                need, how = workers_needed(rates, args.step_rate)
                print(f"pipeline aug={aug}: {need} workers keep up with a train step of "
                      f"{args.step_rate:g} samples/s ({how}; this machine has "
                      f"{os.cpu_count()} cores)", flush=True)


if __name__ == "__main__":
    main()
