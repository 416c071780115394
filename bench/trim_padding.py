#!/usr/bin/env python
"""Training samples/s with and without cutting each batch's white margin, on a dataset's own lines.

    python bench/trim_padding.py                       # poilus if present, else synthetic
    python bench/trim_padding.py --dataset poilus --batches 40 --repeats 3
    python bench/trim_padding.py --experiment cpu --override dataset.image_w=768

Lines are fitted to the recipe's input (``--experiment``, default ``cpu``: 32×512, batch 8) and
padded on the right as in training. Two configurations, alternated ``--repeats`` times in one
process so that the ratio stands on a busy machine:

- **full width**: shuffled batches at the full input width (``model.trim_padding=false``,
  ``data.bucket_batches=0``);
- **trimmed**: batches of lines of similar width (``data.bucket_batches``, the experiment's value
  or 50) cut after their last inked column (``model.trim_padding=true``).

Each configuration draws ``--batches`` batches from its own train loader first (loading is not
timed), then times the training steps on them: forward, CTC loss, backward, AdamW. It prints the
mean share of the input width the trimmed batches kept, ms/step and samples/s of each, and the
ratio trimmed / full width.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from stackmix import resolvers  # noqa: F401
from stackmix.data.datamodule import HTRDataModule


def compose_cfg(dataset: str, args, tmp: str, trim: bool):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"dataset={dataset}", f"experiment={args.experiment}", f"paths.output_dir={tmp}",
            f"model.trim_padding={str(trim).lower()}", *args.override])
    cfg.data.bucket_batches = (args.bucket or cfg.data.bucket_batches or 50) if trim else 0
    return cfg


def default_dataset(args, tmp: str) -> str:
    poilus = compose_cfg("poilus", args, tmp, False)
    return "poilus" if (Path(poilus.dataset.root) / "marking.csv").is_file() else "synthetic"


def batches_and_module(args, tmp: str, trim: bool):
    cfg = compose_cfg(args.dataset, args, tmp, trim)
    dm = HTRDataModule(cfg.dataset, aug=None, batch_size=cfg.data.batch_size, num_workers=0,
                       seed=args.seed, cache_images=True, cache_dir=cfg.paths.cache_dir,
                       time_steps=cfg.data.time_steps, bucket_batches=cfg.data.bucket_batches)
    it = iter(dm.train_dataloader())
    batches = [next(it) for _ in range(args.batches)]
    torch.manual_seed(args.seed)
    module = instantiate(cfg.model, alphabet=dm.codec.alphabet, image_h=dm.image_h,
                         image_w=dm.image_w, _recursive_=False)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    return batches, module, opt


def kept_share(batches, module) -> float:
    from stackmix.model.module import trim_padding
    t = int(module.net.time_steps)
    return statistics.mean(trim_padding(b["images"], t)[0].shape[-1] / b["images"].shape[-1]
                           for b in batches)


def time_steps(batches, module, opt) -> float:
    """Seconds per training step over ``batches`` (the first one is a warm-up, not timed)."""
    module.train()

    def one(batch):
        loss = module.ctc_loss(module.train_log_probs(batch["images"]), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()

    one(batches[0])
    t = time.perf_counter()
    for b in batches[1:]:
        one(b)
    return (time.perf_counter() - t) / max(1, len(batches) - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default=None, help="a dataset config (default: poilus if present, "
                    "else synthetic)")
    ap.add_argument("--experiment", default="cpu")
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bucket", type=int, default=0, help="data.bucket_batches of the trimmed "
                    "configuration (0: the experiment's, else 50)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--override", nargs="*", default=[], help="more train.py overrides")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        args.dataset = args.dataset or default_dataset(args, tmp)
        setups = {trim: batches_and_module(args, tmp, trim) for trim in (False, True)}
    batch = setups[False][0][0]["images"]
    print(f"{args.dataset}, experiment={args.experiment}: input {batch.shape[-2]}x{batch.shape[-1]}, "
          f"batch {batch.shape[0]}, {args.threads} thread(s), torch {torch.__version__}, "
          f"{args.repeats} alternating repeats of {args.batches} steps")
    share = kept_share(*setups[True][:2])
    print(f"trimmed batches keep {100 * share:.1f} % of the input width on average")
    times = {False: [], True: []}
    for _ in range(args.repeats):
        for trim in (False, True):
            times[trim].append(time_steps(*setups[trim]))
    full, cut = statistics.median(times[False]), statistics.median(times[True])
    n = batch.shape[0]
    print(f"full width: {1000 * full:.0f} ms/step ({n / full:.1f} samples/s); trimmed: "
          f"{1000 * cut:.0f} ms/step ({n / cut:.1f} samples/s): {full / cut:.2f}x")


if __name__ == "__main__":
    main()
