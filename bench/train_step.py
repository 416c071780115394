#!/usr/bin/env python
"""Throughput of the training step alone (forward + CTC loss + backward + AdamW step).

Synthetic uint8 line images and random targets, the model built from the same Hydra config as
training (`model=paper` by default), so the figure is the GPU-side ceiling of `train.py`.
One line per configuration:

    python bench/train_step.py                                  # paper model, bs 32, 128x2048
    python bench/train_step.py --batch-sizes 16 32 64 96 --compile
    python bench/train_step.py --model small --height 48 --width 448 --batch-sizes 32

On a machine without a GPU it runs on the CPU (fp32) with a small default step count.
"""
from __future__ import annotations

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

# bench/stackmix.py is named like the package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import time

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from stackmix import resolvers  # noqa: F401

ALPHABET = "".join(chr(c) for c in range(32, 127))  # 95 characters, like the paper's datasets


def build(model: str, height: int, width: int, precision: str, channels_last: bool, compile_: bool):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", "paths.output_dir=/tmp"])
    module = instantiate(cfg.model, alphabet=ALPHABET, image_h=height, image_w=width,
                         channels_last=channels_last, compile=compile_, _recursive_=False)
    return module, cfg


def run(args, bs: int, device: torch.device) -> str:
    cuda = device.type == "cuda"
    precision = "bf16" if cuda and not args.fp32 else "fp32"
    module, cfg = build(args.model, args.height, args.width, precision, args.channels_last and cuda,
                        args.compile)
    module.to(device).train()
    fused = cuda
    opt = torch.optim.AdamW(module.parameters(), lr=2e-4, weight_decay=1e-2, fused=fused)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (bs, 1, args.height, args.width), dtype=torch.uint8, generator=gen)
    lengths = torch.randint(20, 60, (bs,), generator=gen)
    targets = torch.randint(1, len(ALPHABET) + 1, (int(lengths.sum()),), generator=gen)
    batch = {"images": images.to(device), "targets": targets.to(device),
             "target_lengths": lengths.to(device)}
    dtype = torch.bfloat16 if precision == "bf16" else None

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = module.ctc_loss(module.log_probs(batch["images"]), batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / args.steps
    mem = f" peak_mem={torch.cuda.max_memory_allocated() / 2**30:.1f}GiB" if cuda else ""
    name = torch.cuda.get_device_name(device) if cuda else f"cpu x{torch.get_num_threads()}"
    params = sum(p.numel() for p in module.net.parameters())
    return (f"train_step model={args.model} params={params / 1e6:.2f}M bs={bs} "
            f"{args.height}x{args.width} precision={precision} "
            f"channels_last={int(args.channels_last and cuda)} compile={int(args.compile)} "
            f"device='{name}': {bs / dt:.1f} samples/s ({dt * 1000:.1f} ms/step){mem}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="paper")
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast on the GPU")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    cpu = device.type == "cpu"
    args.batch_sizes = args.batch_sizes or ([2] if cpu and args.model == "paper" else [32])
    args.steps = args.steps or (3 if cpu else 30)
    args.warmup = args.warmup if args.warmup is not None else (1 if cpu else 10 + 20 * args.compile)
    for bs in args.batch_sizes:
        try:
            print(run(args, bs, device), flush=True)
        except torch.OutOfMemoryError:
            print(f"train_step model={args.model} bs={bs}: out of memory", flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
