"""StackMix step 2, the algorithm: a trained recognizer's CTC alignment → char masks of lines.

:func:`compute_masks` runs a recognizer (anything with ``alphabet``, ``image_h``, ``image_w``,
``prepare(gray) -> input`` and ``log_probs(batch) -> (B, T, C)``, and ``fit``, the mode ``prepare``
fits lines in, when it is not the default ``height``; e.g.
:class:`stackmix.inference.recognizer.Recognizer`) over lines, keeps those it decodes exactly (the
paper's rule; ``align="forced"`` with ``max_cer`` also accepts lines with a few errors, aligning
the *reference* text by CTC Viterbi) and turns each line's CTC runs into per-character pixel
boundaries (:mod:`stackmix.mix.boundaries`). The task ``prepare.py task=char_masks`` wires it to a
checkpoint and a dataset; :mod:`stackmix.mix.masks` is the file format.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np

from stackmix.ctc import forced_align, greedy_runs
from stackmix.data.image import DEFAULT_FIT, ImageReadError, read_gray
from stackmix.metrics import line_cer
from stackmix.mix.boundaries import input_scale_x, line_boundaries
from stackmix.mix.ink import column_ink
from stackmix.mix.masks import LineMask
from stackmix.text import CTCCodec

REJECT_TEXT = "decoded text differs from the reference"
REJECT_CER = "decoded text differs more than max_cer"
REJECT_UNKNOWN = "characters outside the model's alphabet"
REJECT_IMAGE = "unreadable image"
REJECT_ALIGN = "no CTC alignment (text too long for the model's time steps)"
ALIGN_MODES = ("greedy", "forced")


def compute_masks(recognizer, samples, *, root: Path, batch_size: int = 32,
                  align: str = "greedy", max_cer: float = 0.0, snap: float = 0.0,
                  progress: bool = True,
                  images: dict | None = None) -> tuple[list[LineMask], Counter, dict]:
    """Char masks of ``samples`` (with ``.sample_id``, ``.path``, ``.text``) under ``recognizer``.

    ``images`` (sample_id → gray image) replaces reading the files. Returns (masks, rejected
    reason → count, stats: ``edits``, ``chars``, ``exact``, ``inference_s``, ``boundaries_s``).
    """
    if align not in ALIGN_MODES:
        raise ValueError(f"align must be 'greedy' or 'forced', got {align!r}")
    codec = CTCCodec(recognizer.alphabet)
    H, W = int(recognizer.image_h), int(recognizer.image_w)
    fit = str(getattr(recognizer, "fit", None) or DEFAULT_FIT)
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
        lp = np.asarray(recognizer.log_probs(np.stack([recognizer.prepare(im) for im in imgs])))
        stats["inference_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        T = lp.shape[1]
        for s, img, line_lp in zip(ok, imgs, lp):
            runs = greedy_runs(line_lp)  # the characters of the greedy (best) path
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
            sx = input_scale_x(h, w, H, W, fit)
            b = line_boundaries(runs, T, W, sx, w, col_ink=column_ink(img), snap=snap)
            out.append(LineMask(s.sample_id, _relative(s.path, root), s.text, int(w), int(h),
                                b.tolist(), cer))
        stats["boundaries_s"] += time.perf_counter() - t0
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return out, rejected, stats


def _relative(path, root: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(p)


def preview(masks: list[LineMask], root: Path, count: int) -> bytes | None:
    """PNG bytes: the first ``count`` masked lines with their boundaries drawn in red."""
    import cv2

    rows = []
    for m in masks[:count]:
        img = cv2.cvtColor(read_gray(Path(root) / m.path), cv2.COLOR_GRAY2BGR)
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
