"""Tiny StackMix fixtures: printed lines with exactly known character boundaries, their char
masks and a token bank (no model involved)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from stackmix.data.marking import write_marking
from stackmix.mix.bank_build import build_bank
from stackmix.mix.masks import CharMasks, LineMask

TEXTS = ["abc de", "bad cab", "face deaf", "cafe bead", "dab ace", "fade bad"]
FONT = cv2.FONT_HERSHEY_SIMPLEX


def printed_line(text: str, height: int = 40, paper: int = 235) -> tuple[np.ndarray, list[float]]:
    """A printed line and its ``len(text)+1`` character boundaries (from the font's advances)."""
    scale = height / 40
    x0 = 5
    bounds = [x0 + cv2.getTextSize(text[:k], FONT, scale, 1)[0][0] if k else x0
              for k in range(len(text) + 1)]
    w = bounds[-1] + 6
    img = np.full((height, w), paper, np.uint8)
    cv2.putText(img, text, (x0, int(height * 0.7)), FONT, scale, 20, 1, cv2.LINE_AA)
    return img, [float(b) for b in bounds]


def make_masked_dataset(root: Path, texts=TEXTS) -> CharMasks:
    """marking.csv + PNG lines under ``root`` and the matching (exact) char masks."""
    (root / "lines").mkdir(parents=True, exist_ok=True)
    rows, lines = [], []
    for i, t in enumerate(texts):
        img, bounds = printed_line(t)
        rel = f"lines/{i:03d}.png"
        cv2.imwrite(str(root / rel), img)
        rows.append({"sample_id": f"s{i:03d}", "path": rel, "stage": "train", "text": t})
        lines.append(LineMask(f"s{i:03d}", rel, t, img.shape[1], img.shape[0], bounds))
    rows.append({"sample_id": "v000", "path": "lines/000.png", "stage": "valid", "text": texts[0]})
    rows.append({"sample_id": "t000", "path": "lines/000.png", "stage": "test", "text": texts[0]})
    write_marking(root, rows)
    return CharMasks("tiny", str(root), lines, {"image_h": 32, "image_w": 256,
                                                "normalize": {"unicode_form": "NFC"}}, {})


def make_bank(tmp: Path, height: int = 32, max_per_span: int = 100):
    """(bank prefix, char masks) for the printed tiny dataset."""
    masks = make_masked_dataset(tmp / "data")
    masks.save(tmp / "tokens" / "char_masks.json")
    prefix = tmp / "tokens" / "bank"
    build_bank(masks, prefix, height=height, max_per_span=max_per_span, seed=0)
    return prefix, masks
