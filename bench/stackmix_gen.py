"""Benchmark StackMix: token bank build (time, size, files), generation speed, char mask quality.

    .venv/bin/python bench/stackmix_gen.py [--masks PATH] [--synthetic-masks PATH | --synthetic-ckpt CKPT]

* **bank**: builds a bank into a temporary folder from the char masks given by ``--masks``
  (default ``$STACKMIX_TOKENS/poilus/char_masks.json``; make them with ``python prepare.py
  task=char_masks dataset=poilus task.ckpt=...``). When that file does not exist (a fresh clone),
  from the embedded synthetic dataset's true character extents instead (``char_extents.json``,
  generated on first use in seconds, no model needed); the first ``bank`` line says which.
  CPU time is ``time.process_time()`` (this process only: other jobs on the machine do not
  count), image decoding included, model inference excluded (it happened in ``task=char_masks``).
* **generation**: ms per generated line on one core (process pinned to one CPU, numpy/OpenCV
  single-threaded), corpus = the masked lines' texts, ``smooth_background_p`` 0.1 (as trained) and
  1.0; plus the same followed by ``resize_pad`` to the training size, as the data loader does.
* **mask error** on ``synthetic``: median |predicted − true| inner character boundary, in units of
  each line's mean character width, against the ``char_extents.json`` the synthetic dataset
  records. Give char masks made on it (``--synthetic-masks``) or a checkpoint trained on it
  (``--synthetic-ckpt``: masks are computed here, with ``snap`` 0 and 0.25).

The original StackMix-OCR (for comparison): 30 ms per line; bank for the 2,508 poilus train lines
in 262 s, 396,764 PNG files, 5.3 GB.
"""
from __future__ import annotations

import os
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from stackmix.data.image import resize_pad  # noqa: E402
from stackmix.mix.bank import TokenBank  # noqa: E402
from stackmix.mix.bank_build import build_bank, default_height  # noqa: E402
from stackmix.mix.generator import StackMixGenerator  # noqa: E402
from stackmix.mix.masks import CharMasks, boundary_errors, true_char_masks  # noqa: E402
from stackmix.resolvers import project_root  # noqa: E402

ORIGINAL = {"bank_s": 262.0, "bank_bytes": 5.3e9, "bank_files": 396_764, "gen_ms": 30.0}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu or 'unknown CPU'}, {os.cpu_count()} cores visible"


def tokens_dir() -> Path:
    return Path(os.environ.get("STACKMIX_TOKENS", Path(project_root()) / ".." / "StackMix-OCR-MWE_TOKENS"))


def synthetic_true_masks(overrides: list[str] = ()) -> CharMasks:
    """Char masks of the embedded synthetic dataset's train split from its true character
    extents (the dataset is generated first when missing: ``ensure_synthetic``)."""
    from hydra import compose, initialize_config_module

    from stackmix import resolvers  # noqa: F401
    from stackmix.data.synthetic import ensure_synthetic

    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=["dataset=synthetic", "paths.output_dir=/tmp", *overrides])
    root = ensure_synthetic(cfg.dataset.root, **cfg.dataset.synthetic)
    masks = true_char_masks(root)
    masks.meta.setdefault("image_h", int(cfg.dataset.image_h))
    masks.meta.setdefault("image_w", int(cfg.dataset.image_w))
    return masks


def bench_bank(masks: CharMasks, height: int | None) -> Path:
    h = height or default_height(masks)
    tmp = Path(tempfile.mkdtemp(prefix="stackmix-bench-"))
    c0, t0 = time.process_time(), time.perf_counter()
    s = build_bank(masks, tmp / "bank", height=h, root=masks.root)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    files = [p for p in tmp.iterdir() if not p.name.startswith(".")]
    size = sum(p.stat().st_size for p in files)
    print(f"bank       {s.lines} masked lines of {masks.dataset} ({len(masks.lines)} in the masks), "
          f"height {h} px: {s.spans} spans, {s.crops} crops")
    poilus = masks.dataset == "poilus"  # the original's figures are for the poilus bank
    print(f"bank       build {cpu:.1f} s CPU ({wall:.1f} s wall)" + (
          f", target <= 15 s; original {ORIGINAL['bank_s']:.0f} s  ->  "
          f"{ORIGINAL['bank_s'] / max(cpu, 1e-9):.0f}x less" if poilus else ""))
    print(f"bank       {size / 1e6:.1f} MB in {len(files)} files (pixels {s.pixels_bytes / 1e6:.1f} "
          f"MB + index {s.index_bytes / 1e6:.1f} MB)" + (
          f", target <= {ORIGINAL['bank_bytes'] / 20 / 1e6:.0f} MB; original "
          f"{ORIGINAL['bank_bytes'] / 1e9:.1f} GB in {ORIGINAL['bank_files']:,} PNGs  ->  "
          f"{ORIGINAL['bank_bytes'] / size:.0f}x smaller" if poilus else ""))
    return tmp / "bank"


def bench_generation(prefix: Path, corpus: list[str], n: int, image_hw: tuple[int, int] | None):
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    bank = TokenBank(prefix)
    for smooth_p in (0.1, 1.0):
        gen = StackMixGenerator(bank, corpus, smooth_background_p=smooth_p)
        rng = np.random.default_rng(0)
        for _ in range(200):  # warm the page cache and the span dict
            gen(rng)
        widths = []
        c0 = time.process_time()
        for _ in range(n):
            img, _ = gen(rng)
            widths.append(img.shape[1])
        ms = (time.process_time() - c0) / n * 1e3
        line = (f"generation {ms:.3f} ms/line on one core (smooth_background_p={smooth_p}, "
                f"{n} lines, mean {np.mean(widths):.0f}×{bank.height} px), target <= 1.5 ms; "
                f"original {ORIGINAL['gen_ms']:.0f} ms  ->  {ORIGINAL['gen_ms'] / ms:.0f}x faster")
        print(line)
        if image_hw and smooth_p == 0.1:
            c0 = time.process_time()
            for _ in range(n):
                img, _ = gen(rng)
                resize_pad(img, *image_hw)
            ms2 = (time.process_time() - c0) / n * 1e3
            print(f"generation {ms2:.3f} ms/line including resize_pad to {image_hw[0]}×{image_hw[1]} "
                  "(what the data loader does)")


def bench_mask_error(masks: CharMasks, root: Path, label: str) -> dict:
    ext_path = root / "char_extents.json"
    extents = json.loads(ext_path.read_text(encoding="utf-8"))
    r = boundary_errors(masks, extents)
    print(f"mask error {label}: median {r['median']:.3f}, mean {r['mean']:.3f}, p90 {r['p90']:.3f} "
          f"character widths over {r['boundaries']} boundaries of {r['lines']} lines "
          f"(target median <= 0.33)")
    cers = np.array([m.cer for m in masks.lines])
    if (cers > 0).any():  # forced alignment: how the error grows with the line's CER
        edges = [0.0, 1e-9, 0.1, 0.2, 0.3, 0.5, 1.0 + 1e-9]
        for lo, hi in zip(edges[:-1], edges[1:]):
            part = [m for m in masks.lines if lo <= m.cer < hi]
            if part:
                rb = boundary_errors(CharMasks(masks.dataset, masks.root, part), extents)
                name = "exact" if hi <= 1e-9 else f"CER {lo:.1f}-{min(hi, 1.0):.1f}"
                print(f"mask error   {name:>11}: median {rb['median']:.3f} over {rb['lines']} lines")
    return r


def synthetic_masks_from_ckpt(ckpt: str, root: Path, limit: int | None, align: str,
                              max_cer: float, snaps=(0.0, 0.25)) -> list[tuple[str, CharMasks]]:
    from stackmix.data.marking import read_marking
    from stackmix.inference.recognizer import Recognizer
    from stackmix.mix.masking import compute_masks
    from stackmix.text import Normalizer

    recognizer = Recognizer.load(ckpt, device="auto")
    norm = Normalizer.from_config(recognizer.normalize)
    samples = read_marking(root, normalize=norm).stage("train")[: limit or None]
    out = []
    for snap in snaps:
        t0 = time.perf_counter()
        lines, rejected, stats = compute_masks(recognizer, samples, root=root,
                                               align=align, max_cer=max_cer, snap=snap,
                                               progress=False)
        print(f"masks      synthetic align={align} max_cer={max_cer} snap={snap}: {len(lines)} of {len(samples)} train lines used "
              f"(rejected {dict(rejected)}), inference {stats['inference_s']:.1f} s, boundaries "
              f"{stats['boundaries_s']:.1f} s, total {time.perf_counter() - t0:.1f} s")
        out.append((f"{align} max_cer={max_cer} snap={snap}", CharMasks("synthetic", str(root), lines, {}, {})))
    return out


def figure(prefix: Path, root: Path, out: Path, stage: str = "valid", n: int = 5,
           seed: int = 3, max_w: int = 760) -> None:
    """Real lines of ``stage`` above StackMix lines generated (from the train bank) for the same
    text: a grayscale PNG for the README."""
    from stackmix.data.marking import read_marking
    from stackmix.fs import atomic_write_bytes
    from stackmix.data.image import read_gray
    from stackmix.mix.bank_build import normalize_line

    bank = TokenBank(prefix)
    chars = bank.chars
    gen = StackMixGenerator(bank, smooth_background_p=0.0)
    rng = np.random.default_rng(seed)
    h = bank.height
    samples = [s for s in read_marking(root).stage(stage)
               if set(s.text) <= chars and 18 <= len(s.text) <= 45]
    picks = rng.choice(len(samples), size=min(n, len(samples)), replace=False)
    label_w, gap = 92, 10
    rows = []
    for i in sorted(picks.tolist()):
        s = samples[i]
        real, _, _ = normalize_line(read_gray(s.path), h)
        fake = gen.draw(s.text, rng)
        for name, img in (("real", real), ("StackMix", fake)):
            img = img[:, :max_w]
            row = np.full((h, label_w + max_w), 255, np.uint8)
            row[:, label_w:label_w + img.shape[1]] = img
            cv2.putText(row, name, (4, h // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 90, 1, cv2.LINE_AA)
            rows.append(row)
        rows.append(np.full((gap, label_w + max_w), 255, np.uint8))
    img = np.concatenate(rows[:-1])
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    atomic_write_bytes(out, buf.tobytes())
    print(f"figure     {out} ({img.shape[1]}×{img.shape[0]} px, {len(buf) / 1e3:.0f} kB): "
          f"{len(picks)} {stage} lines (real) above StackMix lines of the same text")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--masks", type=Path, default=tokens_dir() / "poilus" / "char_masks.json",
                    help="char masks of poilus (input of the bank build)")
    ap.add_argument("--height", type=int, default=None,
                    help="bank height (default: as task=stackmix: the masks' image_h, at most the "
                         "lines' own height)")
    ap.add_argument("--n", type=int, default=5000, help="generated lines to time")
    ap.add_argument("--override", nargs="*", default=[],
                    help="Hydra overrides for the synthetic dataset used when --masks is absent "
                         "(e.g. paths.cache_dir=/tmp/c dataset.synthetic.n_train=50)")
    ap.add_argument("--image", type=int, nargs=2, default=None, metavar=("H", "W"),
                    help="also time resize_pad to this training size (default: the masks' model input)")
    ap.add_argument("--synthetic-root", type=Path, default=Path(project_root()) / ".cache" / "synthetic")
    ap.add_argument("--synthetic-masks", type=Path, default=None)
    ap.add_argument("--synthetic-ckpt", default=None)
    ap.add_argument("--synthetic-limit", type=int, default=None)
    ap.add_argument("--align", default="greedy", choices=["greedy", "forced"])
    ap.add_argument("--max-cer", type=float, default=0.0)
    ap.add_argument("--snap", type=float, nargs="+", default=[0.0, 0.25],
                    help="snap settings to compare (with --synthetic-ckpt)")
    ap.add_argument("--figure", type=Path, default=None,
                    help="also write real-vs-StackMix lines (valid split) to this PNG")
    ap.add_argument("--bank", type=Path, default=None,
                    help="bank for --figure (default: the one built here from --masks)")
    args = ap.parse_args()

    print(f"machine    {machine()}; python {platform.python_version()}, numpy {np.__version__}")
    if args.masks.is_file():
        masks = CharMasks.load(args.masks)
        print(f"bank       source: char masks {args.masks} ({masks.meta.get('align', 'model')} "
              "alignment)")
    else:
        masks = synthetic_true_masks(args.override)
        print(f"bank       source: true character extents of the synthetic dataset {masks.root} "
              f"(no char masks at {args.masks}; make them with python prepare.py "
              "task=char_masks dataset=poilus task.ckpt=...)")
    prefix = bench_bank(masks, args.height)
    image_hw = tuple(args.image) if args.image else (int(masks.meta.get("image_h", 128)),
                                                      int(masks.meta.get("image_w", 2048)))
    bench_generation(prefix, [m.text for m in masks.lines], args.n, image_hw)
    if args.figure:
        figure(args.bank or prefix, Path(masks.root), args.figure)
    if args.synthetic_masks is not None:
        m = CharMasks.load(args.synthetic_masks)
        bench_mask_error(m, Path(m.root), f"synthetic ({args.synthetic_masks.name})")
    elif args.synthetic_ckpt:
        for label, m in synthetic_masks_from_ckpt(args.synthetic_ckpt, args.synthetic_root,
                                                  args.synthetic_limit, args.align, args.max_cer,
                                                  args.snap):
            bench_mask_error(m, args.synthetic_root, f"synthetic {label}")
    else:
        print("mask error skipped: give --synthetic-masks or --synthetic-ckpt")


if __name__ == "__main__":
    main()
