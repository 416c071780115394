"""Samples per second of a training step (forward, CTC-like loss, backward, AdamW) on the CPU for
the small network in NCHW and in channels_last (NHWC) memory format, measured in one process,
alternating the two formats, so that the ratio is robust to a busy machine.

    python bench/channels_last.py [--threads 1] [--repeats 3] [--steps 8]

Prints one line per configuration: the median ms per step of each format and the ratio. The
configurations are the two CPU inputs of the project: experiment=cpu (32x512, stem stride
(2, 1), 128 time steps, batch 8) and `make demo` (48x448, stem stride 2, 64 time steps, batch 32).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from stackmix.model.crnn import CRNN

CONFIGS = {
    "experiment=cpu (32x512, batch 8)": dict(h=32, w=512, batch=8, stem=[2, 1], steps=128),
    "make demo (48x448, batch 32)": dict(h=48, w=448, batch=32, stem=2, steps=64),
}


def step_time(cfg: dict, channels_last: bool, steps: int) -> float:
    torch.manual_seed(0)
    net = CRNN(80, backbone="resnet18", backbone_layers=2, stem_stride=cfg["stem"], in_chans=1,
               time_feature_count=128, time_steps=cfg["steps"], lstm_hidden=128, lstm_layers=2,
               timm_kwargs=dict(channels=[32, 64, 128, 256], layers=[1, 1, 1, 1]))
    x = torch.rand(cfg["batch"], 1, cfg["h"], cfg["w"])
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def one():
        loss = net(x).log_softmax(-1).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    one()  # warm-up (oneDNN primitive creation)
    t = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.repeats} alternating repeats "
          f"of {args.steps} steps")
    for name, cfg in CONFIGS.items():
        times = {False: [], True: []}
        for _ in range(args.repeats):
            for cl in (False, True):
                times[cl].append(step_time(cfg, cl, args.steps))
        nchw, nhwc = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name}: NCHW {1000 * nchw:.0f} ms/step ({cfg['batch'] / nchw:.1f} samples/s), "
              f"channels_last {1000 * nhwc:.0f} ms/step ({cfg['batch'] / nhwc:.1f} samples/s): "
              f"{nchw / nhwc:.2f}x")


if __name__ == "__main__":
    main()
