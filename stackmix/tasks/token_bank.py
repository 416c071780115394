"""`python prepare.py task=token_bank dataset=<name>`: StackMix step 3, the token bank.

Reads the char masks (``task=char_masks``) and the dataset images, and writes every span of
1..``max_span`` characters (at most ``max_per_span`` crops each) as one memory-mapped pixel file
plus a small index (see ``stackmix.mix.bank``), atomically.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from stackmix.mix.bank_build import build_bank, default_height
from stackmix.mix.masks import CharMasks, CharMasksError

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    t = cfg.task
    masks_path = Path(str(t.masks)).expanduser()
    try:
        masks = CharMasks.load(masks_path)
    except CharMasksError as e:
        raise SystemExit(
            f"{e}\nMake the char masks first: python prepare.py task=char_masks "
            f"dataset={cfg.dataset.name} task.ckpt=<base model checkpoint> task.out={masks_path}"
        ) from None
    if not masks.lines:
        raise SystemExit(f"{masks_path} holds no usable lines ({masks.summary}): train the base "
                         "model longer or use task=char_masks task.align=forced task.max_cer=0.1")
    root = Path(str(t.root)).expanduser() if t.get("root") else Path(masks.root)
    if not root.is_dir():
        root = Path(str(cfg.dataset.root)).expanduser()
        log.warning("dataset folder recorded in the masks is missing; using %s", root)
    if t.get("height"):
        height = int(t.height)
    else:
        height = default_height(masks, fallback=int(cfg.dataset.image_h),
                                upscale=bool(t.get("upscale", False)))
    log.info("token bank from %d masked lines of %s (height %d px, spans 1..%d, <= %d crops each)",
             len(masks.lines), masks.dataset, height, t.max_span, t.max_per_span)
    summary = build_bank(masks, str(t.out), height=height, root=root, max_span=int(t.max_span),
                         max_per_span=int(t.max_per_span), seed=int(t.seed),
                         progress=bool(t.get("progress", True)))
    log.info("%s", summary)
    return summary.__dict__
