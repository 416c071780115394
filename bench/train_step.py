#!/usr/bin/env python
"""Throughput of the training step alone (forward + CTC loss + backward + AdamW step).

The model is built from the same Hydra config as training (``model=paper`` by default), fed one
synthetic batch (random uint8 line images, random targets) that is reused for every step and
every configuration. Warm-up steps are excluded; the figure is the median over ``--windows``
timed windows of ``--steps`` steps each (the device is synchronized only at window edges).

Configurations, each in this process, on the same batch and the same initial weights:

* ``original`` (with ``--baseline``): the original StackMix-OCR's configuration: fp32, NCHW,
  the input normalized to float on the host (3 channels for the paper network) and copied to the
  device every step, AdamW without the fused kernel, no compile, cuDNN autotuner off.
* ``project``: this project's default training path, as ``train.py`` runs it: the module's own
  ``training_step`` and ``optimizer_step`` (with its non-finite-loss guard); uint8 input copied to
  the device and normalized there; precision, channels_last and the fused AdamW as the configs
  resolve them (on a GPU: bf16 autocast, channels_last, fused AdamW, cuDNN autotuner, TF32).
* ``project+compile`` (with ``--compile``): the same with ``model.compile=true``.

Each line gives samples/s (and, on a GPU, peak memory); ``ratio`` lines divide by ``original``.

    python bench/train_step.py --baseline --compile --batch-sizes 32 64 128   # GPU, paper model
    python bench/train_step.py --baseline --model small --height 48 --width 448   # CPU check
    python bench/train_step.py --model small --height 48 --width 448 --batch-sizes 32
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from stackmix import resolvers  # noqa: F401

ALPHABET = "".join(chr(c) for c in range(32, 127))  # 95 characters, like the paper's datasets


def compose_model(model: str):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("train", overrides=[f"model={model}", "paths.output_dir=/tmp"]).model


def make_batch(bs: int, height: int, width: int, in_chans: int) -> dict:
    """One synthetic batch on the host: uint8 images (as the project's loader gives them), the
    same images as host-normalized float (as the original's loader gave them), and targets."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (bs, 1, height, width), dtype=torch.uint8, generator=gen)
    lengths = torch.randint(20, 60, (bs,), generator=gen)
    targets = torch.randint(1, len(ALPHABET) + 1, (int(lengths.sum()),), generator=gen)
    host_float = (1.0 - images.float() / 255.0).expand(-1, in_chans, -1, -1).contiguous()
    return {"images": images, "float_images": host_float, "targets": targets,
            "target_lengths": lengths, "texts": ["x" * int(n) for n in lengths]}


class Config:
    def __init__(self, name: str, original: bool, compile_: bool, args, cuda: bool):
        self.name, self.original, self.compile = name, original, compile_
        if original:
            self.precision, self.channels_last, self.fused = "32-true", False, False
        else:
            self.precision = "32-true" if args.fp32 else resolvers.auto_precision()
            self.channels_last = cuda and args.channels_last
            self.fused = cuda

    def describe(self) -> str:
        inp = "float input normalized on the host" if self.original else "uint8 input normalized on the device"
        return (f"{self.precision}, {'channels_last' if self.channels_last else 'NCHW'}, {inp}, "
                f"AdamW {'fused' if self.fused else 'not fused'}, {'compiled' if self.compile else 'eager'}")


def build(cfg_model, cfg: Config, height: int, width: int):
    torch.manual_seed(0)  # the same initial weights for every configuration
    overrides = {"alphabet": ALPHABET, "image_h": height, "image_w": width,
                 "channels_last": cfg.channels_last, "compile": cfg.compile, "_recursive_": False}
    module = instantiate(cfg_model, **overrides)
    opt_cfg = dict(module.hparams.optimizer)
    opt_cfg["fused"] = cfg.fused
    return module, opt_cfg


def timed(cfg: Config, module, opt, batch: dict, device: torch.device, args) -> list[float]:
    """Seconds per step of each timed window, after the warm-up."""
    cuda = device.type == "cuda"
    dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(cfg.precision)
    on_device = {k: v.to(device) for k, v in batch.items() if k in ("targets", "target_lengths")}
    texts = batch["texts"]

    if cfg.original:
        host = batch["float_images"].pin_memory() if cuda else batch["float_images"]

        def step(i):
            x = host.to(device, non_blocking=True)
            log_probs = module.net(x).float().log_softmax(-1)
            loss = module.ctc_loss(log_probs, on_device)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    else:
        host = batch["images"].pin_memory() if cuda else batch["images"]

        def step(i):
            b = dict(on_device, images=host.to(device, non_blocking=True), texts=texts)

            def closure():
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = module.training_step(b, i)
                loss.backward()
                return loss

            module.optimizer_step(0, i, opt, closure)
            opt.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    i = 0
    for _ in range(args.warmup):
        step(i)
        i += 1
    sync()
    windows = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(i)
            i += 1
        sync()
        windows.append((time.perf_counter() - t0) / args.steps)
    return windows


def run(cfg: Config, args, bs: int, device: torch.device, cfg_model) -> dict:
    cuda = device.type == "cuda"
    if cuda:  # the original ran with PyTorch's defaults; the project's trainer sets these
        torch.backends.cudnn.benchmark = not cfg.original
        torch.set_float32_matmul_precision("highest" if cfg.original else "high")
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    module, opt_cfg = build(cfg_model, cfg, args.height, args.width)
    module.to(device).train()
    # the config's optimizer is a factory (`_partial_: true`, as the module's configure_optimizers
    # completes it): build it here with the parameters
    opt = instantiate(opt_cfg)(params=module.parameters())
    batch = make_batch(bs, args.height, args.width, module.in_chans)
    windows = timed(cfg, module, opt, batch, device, args)
    dt = statistics.median(windows)
    out = {"name": cfg.name, "bs": bs, "rate": bs / dt, "ms": dt * 1e3,
           "spread": (bs / max(windows), bs / min(windows))}
    if cuda:
        out["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    del module, opt
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="paper")
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None, help="steps per timed window")
    p.add_argument("--windows", type=int, default=None, help="timed windows (the median is reported)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first")
    p.add_argument("--baseline", action="store_true",
                   help="time the original StackMix-OCR configuration first and print ratios")
    p.add_argument("--compile", action="store_true", help="also time the project path compiled")
    p.add_argument("--fp32", action="store_true", help="project path without bf16 autocast")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = p.parse_args()
    for name in ("steps", "windows", "warmup", "threads"):
        v = getattr(args, name)
        if v is not None and v < (0 if name == "warmup" else 1):
            p.error(f"--{name} must be >= {0 if name == 'warmup' else 1}")
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*self.log.*")  # training_step without a Trainer
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    args.batch_sizes = args.batch_sizes or ([32] if cuda or args.model != "paper" else [2])
    args.steps = args.steps or (10 if cuda else 3)
    args.windows = args.windows or (5 if cuda else 3)
    args.warmup = args.warmup if args.warmup is not None else (10 if cuda else 1)
    cfg_model = compose_model(args.model)
    configs = ([Config("original", True, False, args, cuda)] if args.baseline else []) + \
        [Config("project", False, False, args, cuda)] + \
        ([Config("project+compile", False, True, args, cuda)] if args.compile else [])
    dev_name = torch.cuda.get_device_name(device) if cuda else f"cpu x{torch.get_num_threads()} threads"
    print(f"train_step model={args.model} {args.height}x{args.width} device='{dev_name}' "
          f"torch {torch.__version__}; median of {args.windows} windows x {args.steps} steps after "
          f"{args.warmup} warm-up steps", flush=True)
    for c in configs:
        print(f"  {c.name:<16} = {c.describe()}", flush=True)
    for bs in args.batch_sizes:
        base = None
        for c in configs:
            warm = args.warmup
            if c.compile and args.warmup < 3:
                args.warmup = 3  # compilation happens in the first steps: never time it
            try:
                r = run(c, args, bs, device, cfg_model)
            except torch.OutOfMemoryError:
                print(f"train_step bs={bs} {c.name}: out of memory", flush=True)
                torch.cuda.empty_cache()
                continue
            finally:
                args.warmup = warm
            mem = f", peak memory {r['peak_gib']:.2f} GiB" if "peak_gib" in r else ""
            print(f"train_step bs={bs} {c.name:<16}: {r['rate']:.1f} samples/s "
                  f"({r['ms']:.1f} ms/step; windows {r['spread'][0]:.1f}-{r['spread'][1]:.1f}){mem}",
                  flush=True)
            if c.original:
                base = r
            elif base is not None:
                print(f"train_step bs={bs} ratio {c.name}/original: {r['rate'] / base['rate']:.2f}x",
                      flush=True)


if __name__ == "__main__":
    main()
