#!/usr/bin/env python
"""Samples/s of the training DataLoader for each `aug`, with N workers (no GPU needed).

Lines are served exactly as in training: from the memory-mapped image cache, resized to
128×2048, augmented (base / blots), StackMix replacing 80% of them, collated into uint8 batches.
With `--workers 0` the figure is what ONE worker process delivers; multiply by the number of
workers (e.g. 16 on an H100 node) to compare with `bench/train_step.py`.

    python bench/pipeline.py                               # poilus if present, else synthetic
    python bench/pipeline.py --dataset synthetic --workers 0 2 --augs base blots_stackmix

StackMix needs a token bank: `--bank PREFIX` uses one you built with `prepare.py task=stackmix`;
without it the bench builds a 128-px bank from the synthetic dataset's true character extents
(no model needed), in a temporary folder.
"""
from __future__ import annotations

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

# bench/stackmix.py is named like the package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import torch
from hydra import compose, initialize_config_module

from stackmix import resolvers  # noqa: F401
from stackmix.data.datamodule import HTRDataModule

AUGS = ["none", "base", "blots", "stackmix", "blots_stackmix"]


def compose_cfg(dataset: str, aug: str, tmp: str, extra: list[str]):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("train", overrides=[f"dataset={dataset}", f"aug={aug}",
                                           f"paths.output_dir={tmp}", *extra])


def synthetic_bank(tmp: str, height: int) -> str:
    """A bank built from the synthetic dataset's ground-truth character extents."""
    from stackmix.data.marking import read_marking
    from stackmix.data.synthetic import ensure_synthetic
    from stackmix.data.image import read_gray
    from stackmix.mix.bank import build_bank
    from stackmix.mix.masks import CharMasks, LineMask, true_inner_boundaries

    cfg = compose_cfg("synthetic", "none", tmp, [])
    root = Path(cfg.dataset.root)
    ensure_synthetic(root, **cfg.dataset.synthetic)
    extents = json.loads((root / "char_extents.json").read_text())
    lines = []
    for s in read_marking(root).stage("train"):
        ext = extents[s.sample_id]
        h, w = read_gray(s.path).shape
        bounds = [ext[0][0], *true_inner_boundaries(ext).tolist(), ext[-1][1]]
        lines.append(LineMask(s.sample_id, str(s.path.relative_to(root)), s.text, w, h, bounds))
    masks = CharMasks("synthetic", str(root), lines)
    prefix = Path(tmp) / "bank" / "synthetic"
    build_bank(masks, prefix, height=height, root=root)
    return str(prefix)


def measure(dataset: str, aug: str, workers: int, batches: int, batch_size: int, bank: str | None,
            tmp: str) -> float:
    extra = ["dataset.image_h=128", "dataset.image_w=2048"]
    if "stackmix" in aug:
        extra.append(f"aug.stackmix.bank={bank}")
    cfg = compose_cfg(dataset, aug, tmp, extra)
    dm = HTRDataModule(cfg.dataset, aug=cfg.aug, batch_size=batch_size, num_workers=workers,
                       seed=0, cache_images=True, cache_dir=cfg.paths.cache_dir,
                       time_steps=256, persistent_workers=False)
    loader = dm.train_dataloader()
    it = iter(loader)
    next(it)  # start-up (worker spawn, cache open) is not counted
    n, t0 = 0, time.perf_counter()
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        n += len(batch["texts"])
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=None, help="poilus (default when present) or synthetic")
    p.add_argument("--augs", nargs="+", default=AUGS)
    p.add_argument("--workers", type=int, nargs="+", default=[0])
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--bank", default=None, help="prefix of a StackMix bank (default: built from synthetic)")
    args = p.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset is None:
            cfg = compose_cfg("poilus", "none", tmp, [])
            args.dataset = "poilus" if (Path(cfg.dataset.root) / "marking.csv").is_file() else "synthetic"
        bank = args.bank
        if bank is None and any("stackmix" in a for a in args.augs):
            bank = synthetic_bank(tmp, 128)
        for aug in args.augs:
            for w in args.workers:
                rate = measure(args.dataset, aug, w, args.batches, args.batch_size, bank, tmp)
                who = "1 worker (main process)" if w == 0 else f"{w} workers"
                print(f"pipeline dataset={args.dataset} 128x2048 aug={aug} bs={args.batch_size} "
                      f"{who}: {rate:.1f} samples/s", flush=True)


if __name__ == "__main__":
    main()
