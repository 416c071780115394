"""`python prepare.py task=char_masks dataset=<name> task.ckpt=<checkpoint>`: StackMix step 2.

Runs a trained recognizer over the train split (batched, on the GPU when there is one), keeps the
lines it decodes exactly (the paper's rule; ``task.align=forced task.max_cer=...`` also accepts
lines with a few errors, aligning the *reference* text by CTC Viterbi), turns each line's CTC
alignment into per-character pixel boundaries and writes them, with a summary of the lines used
and rejected, to one JSON file (atomically). See ``stackmix.mix.masks`` for the format.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from stackmix.mix.masks import CharMasks, LineMask

from stackmix.inference.engine import resolve_model_path as resolve_checkpoint  # run folder → best ckpt

log = logging.getLogger(__name__)

REJECT_TEXT = "decoded text differs from the reference"
REJECT_CER = "decoded text differs more than max_cer"
REJECT_UNKNOWN = "characters outside the model's alphabet"
REJECT_IMAGE = "unreadable image"
REJECT_ALIGN = "no CTC alignment (text too long for the model's time steps)"


def pick_device(name: str | None) -> str:
    import torch

    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(name)


def load_model(ckpt: Path, device: str):
    from stackmix.model.module import HTRModule

    module = HTRModule.load_from_checkpoint(str(ckpt), map_location=device, weights_only=True)
    module._forward_net = module.net  # inference: no torch.compile warm-up
    module.eval().to(device)
    return module


def compute_masks(module, samples, *, root: Path, device: str, batch_size: int = 32,
                  align: str = "greedy", max_cer: float = 0.0, snap: float = 0.0,
                  normalize: dict | None = None, progress: bool = True,
                  images: dict | None = None) -> tuple[list[LineMask], Counter, dict]:
    """Char masks of ``samples`` (with ``.sample_id``, ``.path``, ``.text``) under ``module``.

    Returns (masks, rejected reason → count, stats).
    """
    import torch

    from stackmix.data.image import resize_pad
    from stackmix.data.image import ImageReadError, read_gray
    from stackmix.metrics import line_cer
    from stackmix.ctc import emission_runs, forced_align
    from stackmix.mix.boundaries import input_scale_x, line_boundaries
    from stackmix.mix.ink import column_ink

    if align not in ("greedy", "forced"):
        raise ValueError(f"align must be 'greedy' or 'forced', got {align!r}")
    codec = module.codec
    H, W = int(module.hparams.image_h), int(module.hparams.image_w)
    out: list[LineMask] = []
    rejected: Counter = Counter()
    stats = {"edits": 0.0, "chars": 0, "exact": 0, "inference_s": 0.0, "boundaries_s": 0.0}
    todo = []
    for s in samples:
        if codec.unknown(s.text):
            rejected[REJECT_UNKNOWN] += 1
        else:
            todo.append(s)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="char masks", unit="line")
    for i in range(0, len(todo), batch_size):
        batch = todo[i:i + batch_size]
        imgs, ok = [], []
        for s in batch:
            try:
                img = images[s.sample_id] if images is not None else read_gray(s.path)
            except ImageReadError:
                rejected[REJECT_IMAGE] += 1
                continue
            imgs.append(img)
            ok.append(s)
        if not ok:
            continue
        t0 = time.perf_counter()
        x = torch.from_numpy(np.stack([resize_pad(im, H, W) for im in imgs]))[:, None].to(device)
        with torch.inference_mode():
            lp = module.log_probs(x).float().cpu().numpy()
        stats["inference_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        T = lp.shape[1]
        for s, img, line_lp in zip(ok, imgs, lp):
            runs = emission_runs(line_lp.argmax(-1))  # the greedy path's characters
            decoded = codec.decode(runs.labels)
            if decoded == s.text:
                stats["exact"] += 1
                cer = 0.0
            else:
                cer = line_cer(s.text, decoded)
                stats["edits"] += cer * len(s.text)
                if align != "forced":
                    rejected[REJECT_TEXT] += 1
                    continue
                if cer > max_cer:
                    rejected[REJECT_CER] += 1
                    continue
                runs = forced_align(line_lp, codec.encode(s.text))
                if runs is None:
                    rejected[REJECT_ALIGN] += 1
                    continue
            stats["chars"] += len(s.text)
            h, w = img.shape
            sx = input_scale_x(h, w, H, W)
            ink = column_ink(img)
            b = line_boundaries(runs, T, W, sx, w, col_ink=ink, snap=snap)
            rel = _relative(s.path, root)
            out.append(LineMask(s.sample_id, rel, s.text, int(w), int(h), b.tolist(), cer))
        stats["boundaries_s"] += time.perf_counter() - t0
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return out, rejected, stats


def _relative(path, root: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(p)


def run(cfg: DictConfig) -> dict:
    from stackmix.data.marking import read_marking
    from stackmix.text import Normalizer

    t = cfg.task
    if t.get("ckpt") in (None, "", "???"):
        raise SystemExit("task.ckpt is required: the trained base model (a .ckpt file or a "
                         "training run folder), e.g. task.ckpt=outputs/train/<run>")
    ckpt = resolve_checkpoint(t.ckpt)
    device = pick_device(t.get("device"))
    t_start = time.perf_counter()
    module = load_model(ckpt, device)
    hp = module.hparams
    normalize = dict(hp.get("normalize") or {})
    normalizer = Normalizer.from_config(normalize) if normalize else \
        Normalizer.from_config(cfg.dataset.get("normalize"))
    root = Path(str(cfg.dataset.root)).expanduser().resolve()
    marking = read_marking(root, normalize=normalizer, on_error=cfg.dataset.get("on_bad_row", "raise"))
    stage = str(t.get("stage", "train"))
    samples = marking.stage(stage)
    if t.get("limit"):
        samples = samples[: int(t.limit)]
    if not samples:
        raise SystemExit(f"no {stage} lines in {root}")
    if hp.get("dataset_name") and hp.dataset_name != cfg.dataset.name:
        log.warning("checkpoint was trained on %r, masking %r", hp.dataset_name, cfg.dataset.name)
    log.info("char masks: %d %s lines of %s with %s on %s (align=%s, max_cer=%s, snap=%s)",
             len(samples), stage, cfg.dataset.name, ckpt, device, t.align, t.max_cer, t.snap)
    masks, rejected, stats = compute_masks(
        module, samples, root=root, device=device, batch_size=int(t.batch_size),
        align=str(t.align), max_cer=float(t.max_cer), snap=float(t.snap),
        progress=bool(t.get("progress", True)))
    n = len(samples)
    summary = {
        "lines": n,
        "used": len(masks),
        "rejected": dict(rejected.most_common()),
        "exact": stats["exact"],
        "model_cer": round(stats["edits"] / max(1, sum(len(s.text) for s in samples)), 4),
        "inference_s": round(stats["inference_s"], 1),
        "boundaries_s": round(stats["boundaries_s"], 1),
        "total_s": round(time.perf_counter() - t_start, 1),
    }
    meta = {
        "checkpoint": str(ckpt),
        "image_h": int(hp.image_h),
        "image_w": int(hp.image_w),
        "alphabet": module.codec.alphabet,
        "normalize": normalizer.to_dict(),
        "stage": stage,
        "align": str(t.align),
        "max_cer": float(t.max_cer),
        "snap": float(t.snap),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = Path(str(t.out)).expanduser()
    CharMasks(str(cfg.dataset.name), str(root), masks, meta, summary).save(out)
    reasons = ", ".join(f"{k}: {v}" for k, v in rejected.most_common()) or "none"
    log.info("char masks: %d of %d %s lines used (%.1f %%); rejected: %s; inference %.1f s, "
             "boundaries %.1f s -> %s", len(masks), n, stage, 100 * len(masks) / n, reasons,
             stats["inference_s"], stats["boundaries_s"], out)
    if t.get("preview"):
        from stackmix.fs import atomic_write_bytes

        png = preview(masks, root, int(t.preview))
        if png is not None:
            prev = out.with_suffix(".preview.png")
            atomic_write_bytes(prev, png)
            log.info("preview of %d masked lines: %s", min(len(masks), int(t.preview)), prev)
    if not masks:
        log.warning("no line was usable: train the base model longer, or use task.align=forced "
                    "task.max_cer=0.1 to also align lines decoded with a few errors")
    return {"out": str(out), **summary}


def preview(masks: list[LineMask], root: Path, count: int) -> bytes | None:
    """PNG bytes: the first ``count`` masked lines with their boundaries drawn in red."""
    import cv2

    from stackmix.data.image import read_gray

    rows = []
    for m in masks[:count]:
        img = cv2.cvtColor(read_gray(root / m.path), cv2.COLOR_GRAY2BGR)
        for k, x in enumerate(m.bounds):
            xi = min(img.shape[1] - 1, int(round(x)))
            color = (0, 0, 230) if 0 < k < len(m.bounds) - 1 else (230, 0, 0)
            img[:, xi] = color
        rows.append(img)
    if not rows:
        return None
    w = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, w - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    ok, buf = cv2.imencode(".png", np.concatenate(rows))
    return buf.tobytes() if ok else None
