"""`python prepare.py task=preview_aug dataset=<name> aug=<name>`: a PNG of N training samples
exactly as the model sees them (resized, padded, augmented; StackMix lines included)."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig

from stackmix.data.datamodule import HTRDataModule
from stackmix.fs import atomic_write_bytes
from stackmix.mix import build_generator

log = logging.getLogger(__name__)


def _caption_font(size: int = 14):
    """DejaVu Sans (shipped with matplotlib) so captions show accents and any Unicode text."""
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def preview_grid(images: list[np.ndarray], texts: list[str], gap: int = 6) -> np.ndarray:
    """Stack line images vertically with a thin grey gap; the text is drawn under each line."""
    from PIL import Image, ImageDraw

    font = _caption_font()
    rows = []
    w = max(im.shape[1] for im in images)
    for im, text in zip(images, texts):
        canvas = np.full((im.shape[0] + 22, w), 255, np.uint8)
        canvas[: im.shape[0], : im.shape[1]] = im
        caption = Image.fromarray(canvas)
        ImageDraw.Draw(caption).text((4, im.shape[0] + 3), text[:200], fill=70, font=font)
        rows.append(np.asarray(caption))
        rows.append(np.full((gap, w), 160, np.uint8))
    return np.vstack(rows[:-1])


def run(cfg: DictConfig) -> Path:
    task = cfg.task
    dm = HTRDataModule(cfg.dataset, aug=cfg.aug, num_workers=0, seed=int(cfg.seed),
                       verify_images=False, stackmix_factory=build_generator)
    ds = dm.dataset("train")
    rng = np.random.default_rng(int(cfg.seed))
    idx = rng.choice(len(ds), size=min(int(task.n), len(ds)), replace=False)
    items = [ds[int(i)] for i in idx]
    grid = preview_grid([it["image"][0].numpy() for it in items], [it["text"] for it in items])
    if task.max_width and grid.shape[1] > int(task.max_width):
        s = int(task.max_width) / grid.shape[1]
        grid = cv2.resize(grid, (int(task.max_width), int(grid.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = Path(task.out) if task.out else Path(cfg.paths.output_dir) / f"preview_{dm.name}_{cfg.aug.name}.png"
    ok, png = cv2.imencode(".png", grid)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    atomic_write_bytes(out, png.tobytes())
    log.info("wrote %d %s samples with aug=%s to %s", len(items), dm.name, cfg.aug.name, out)
    print(out)
    return out
