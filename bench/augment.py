"""Benchmark the train augmentations on one CPU core.

    .venv/bin/python bench/augment.py [--n 500] [--seed 0]

Prints the mean CPU time (``time.process_time()``, so other processes on the machine do not
count) per 128×2048 grayscale line, one line per configuration, over ``--n`` synthetic line images
(light page with dark text-like pen strokes). Threads are pinned to one (OMP_NUM_THREADS=1,
cv2.setNumThreads(1)). Settings are the paper's (conf/aug/blots.yaml).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from hydra import compose, initialize_config_module  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from stackmix.augment import build_blots, build_train_transform  # noqa: E402

H, W = 128, 2048


def text_line(rng: np.random.Generator) -> np.ndarray:
    """A 128×2048 page-coloured line with word-like groups of dark pen strokes, white-padded."""
    img = np.full((H, W), 250, np.uint8)
    img -= rng.integers(0, 12, (H, W), dtype=np.uint8)
    end = int(rng.uniform(0.5, 0.95) * W)
    x = int(rng.integers(10, 40))
    while x < end - 60:
        for _ in range(int(rng.integers(2, 9))):  # letters of a word
            pts = np.stack([x + np.cumsum(rng.uniform(1.5, 5, 7)), 64 + rng.uniform(-28, 28, 7)], 1)
            cv2.polylines(img, [np.round(pts).astype(np.int32)], False, int(rng.integers(10, 80)), 2, cv2.LINE_AA)
            x += int(rng.integers(14, 24))
        x += int(rng.integers(20, 40))
    img[:, end:] = 255
    return img


def bench(name: str, transform, images: list[np.ndarray]) -> None:
    for img in images[:20]:  # warm-up
        transform(image=img)
    start = time.process_time()
    for img in images:
        transform(image=img)
    ms = (time.process_time() - start) / len(images) * 1000
    print(f"{name:<62s} {ms:7.3f} ms/line (process_time, mean of {len(images)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass

    rng = np.random.default_rng(args.seed)
    images = [text_line(rng) for _ in range(args.n)]
    with initialize_config_module("stackmix.conf", version_base="1.3"):  # the composed aug=blots
        aug = compose("prepare", overrides=["task=preview_aug", "aug=blots"]).aug
    # 1-10 blots per line whatever its width, as the paper and the original's timing above
    aug = OmegaConf.merge(aug, {"blots": {"count_width": None}})
    blots_cfg = OmegaConf.to_container(aug.blots, resolve=True)

    forced = dict(blots_cfg, p=1.0)
    bench("blots alone, p=1 (always applied, count 1..10)", A.Compose([build_blots(forced)], seed=args.seed), images)
    bench("blots alone, paper p=0.5 (average over all lines)", A.Compose([build_blots(blots_cfg)], seed=args.seed), images)
    base_only = OmegaConf.merge(aug, {"blots": None})
    bench("base alone (CLAHE .25, rotate .5, JPEG .5)", build_train_transform(base_only, seed=args.seed), images)
    bench("full pipeline, conf/aug/blots.yaml (blots p=.5 + base)", build_train_transform(aug, seed=args.seed), images)


if __name__ == "__main__":
    main()
