"""`python prepare.py task=char_masks dataset=<name> task.ckpt=<checkpoint>`: StackMix step 2.

Runs a trained recognizer over the train split (batched, on the GPU when there is one), keeps the
lines it decodes exactly (the paper's rule; ``task.align=forced task.max_cer=...`` also accepts
lines with a few errors, aligning the *reference* text by CTC Viterbi), turns each line's CTC
alignment into per-character pixel boundaries and writes them, with a summary of the lines used
and rejected, to one JSON file (atomically). The algorithm is ``stackmix.mix.masking``; the file
format ``stackmix.mix.masks``. A checkpoint that cannot write the dataset's characters is refused;
when no line is usable the task fails (exit status 1) and leaves any existing masks file as it was.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from stackmix.checkpoints import CheckpointError
from stackmix.inference.recognizer import Recognizer
from stackmix.mix.masking import compute_masks, preview
from stackmix.mix.masks import CharMasks

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    from stackmix.data.marking import read_marking
    from stackmix.data.splits import limit_train
    from stackmix.text import Normalizer, derive_alphabet

    t = cfg.task
    if t.get("ckpt") in (None, "", "???"):
        raise SystemExit("task.ckpt is required: the trained base model (a .ckpt file or a "
                         "training run folder), e.g. task.ckpt=outputs/train/<run>")
    t_start = time.perf_counter()
    try:
        recognizer = Recognizer.load(t.ckpt, device=t.get("device", "auto"))
    except (FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"char masks: {e}") from None
    ckpt = str(getattr(recognizer, "path", t.ckpt))
    normalizer = Normalizer.from_config(recognizer.normalize) if recognizer.normalize else \
        Normalizer.from_config(cfg.dataset.get("normalize"))
    root = Path(str(cfg.dataset.root)).expanduser().resolve()
    marking = read_marking(root, normalize=normalizer, on_error=cfg.dataset.get("on_bad_row", "raise"))
    stage = str(t.get("stage", "train"))
    # the train lines the model was given: dataset.train_limit picks the same seeded subset here
    train = limit_train(marking.stage("train"), cfg.dataset, int(cfg.seed))
    samples = train if stage == "train" else marking.stage(stage)
    if t.get("limit"):
        samples = samples[: int(t.limit)]
    if not samples:
        raise SystemExit(f"no {stage} lines in {root}")
    _check_alphabet(recognizer, cfg.dataset.get("alphabet") or
                    derive_alphabet(s.text for s in train), ckpt, cfg.dataset.name)
    if recognizer.dataset_name and recognizer.dataset_name != cfg.dataset.name:
        log.warning("checkpoint was trained on %r, masking %r", recognizer.dataset_name,
                    cfg.dataset.name)
    log.info("char masks: %d %s lines of %s with %s on %s (align=%s, max_cer=%s, snap=%s)",
             len(samples), stage, cfg.dataset.name, ckpt, recognizer.device, t.align, t.max_cer,
             t.snap)
    masks, rejected, stats = compute_masks(
        recognizer, samples, root=root, batch_size=int(t.batch_size), align=str(t.align),
        max_cer=float(t.max_cer), snap=float(t.snap), progress=bool(t.get("progress", True)))
    n = len(samples)
    model_cer = stats["edits"] / max(1, sum(len(s.text) for s in samples))
    summary = {
        "lines": n,
        "used": len(masks),
        "rejected": dict(rejected.most_common()),
        "exact": stats["exact"],
        "model_cer": round(model_cer, 4),
        "inference_s": round(stats["inference_s"], 1),
        "boundaries_s": round(stats["boundaries_s"], 1),
        "total_s": round(time.perf_counter() - t_start, 1),
    }
    out = Path(str(t.out)).expanduser()
    reasons = ", ".join(f"{k}: {v}" for k, v in rejected.most_common()) or "none"
    if not masks:
        kept = (f" The existing {out} is left as it was." if out.is_file() else
                " Nothing was written.")
        raise SystemExit(
            f"char masks: none of the {n} {stage} lines was usable with {ckpt} (align={t.align}, "
            f"max_cer={t.max_cer}; the model's CER on these lines is {100 * model_cer:.1f} %; "
            f"rejected: {reasons}).{kept} {_advice(str(t.align), float(t.max_cer), model_cer)}")
    meta = {
        "checkpoint": ckpt,
        "image_h": int(recognizer.image_h),
        "image_w": int(recognizer.image_w),
        "fit": str(getattr(recognizer, "fit", "height")),
        "alphabet": recognizer.alphabet,
        "normalize": normalizer.to_dict(),
        "stage": stage,
        "align": str(t.align),
        "max_cer": float(t.max_cer),
        "snap": float(t.snap),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    CharMasks(str(cfg.dataset.name), str(root), masks, meta, summary).save(out)
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
    return {"out": str(out), **summary}


def _check_alphabet(recognizer, data_alphabet: str, ckpt: str, dataset: str) -> None:
    """Refuse a checkpoint whose alphabet cannot write the dataset's characters (a model of
    another dataset): its masks would all be rejected, or be wrong."""
    missing = "".join(c for c in data_alphabet if c not in recognizer.alphabet)
    if missing:
        raise SystemExit(
            f"char masks: the checkpoint {ckpt} cannot write {len(missing)} of the "
            f"{len(data_alphabet)} characters of dataset {dataset!r} ({missing!r}); it was trained "
            f"on {recognizer.dataset_name or 'another dataset'!r} with alphabet "
            f"{recognizer.alphabet!r}. Give task.ckpt= a model trained on this dataset.")


def _advice(align: str, max_cer: float, model_cer: float) -> str:
    """What would help when no line was usable (never what the user already asked for)."""
    tips = []
    if model_cer > 0.3:
        tips.append("a better base model (train it longer, or check its test CER): most lines "
                    "are misread")
    if align != "forced":
        tips.append("a looser bound that also aligns lines with a few errors: task.align=forced "
                    "task.max_cer=0.1")
    elif max_cer < 0.5:
        tips.append(f"a looser bound than max_cer={max_cer:g}: task.max_cer="
                    f"{min(0.5, max(0.1, 2 * max_cer)):g}")
    if not tips:
        tips.append("a better base model: even with a loose bound no line could be aligned")
    return "What would help: " + "; or ".join(tips) + "."
