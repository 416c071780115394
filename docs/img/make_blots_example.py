"""Regenerate docs/img/blots_example.png: HandWritten Blots (p = 1, 3-6 per line, the other
settings of aug=blots) on four poilus lines exactly as training applies them: the line is fitted
into 128 × 2048, blotted, then padded (so the white padding never gets a blot). Left 960 px.

    python docs/img/make_blots_example.py [poilus folder]   (default: $STACKMIX_SHARED_DATA/poilus)
"""
import os
import sys
from pathlib import Path

import albumentations as A

import cv2
import numpy as np
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

import stackmix.resolvers  # noqa: F401
from stackmix.data.image import fit_resize, pad_to, read_gray
from stackmix.data.marking import read_marking

REPO = Path(__file__).resolve().parents[2]
shared = Path(os.environ.get("STACKMIX_SHARED_DATA", REPO.parent / "shared" / "data"))
root = Path(sys.argv[1]) if len(sys.argv) > 1 else shared / "poilus"
with initialize_config_module("stackmix.conf", version_base="1.3"):
    cfg = compose("train", overrides=["dataset=poilus", f"dataset.root={root}", "aug=blots",
                                      "aug.blots.p=1.0", "aug.blots.count_range=[3,6]"])
blots = A.Compose([instantiate(cfg.aug.blots)], seed=3)
samples = read_marking(root).stage("train")
picked = [samples[i] for i in (10, 200, 700)] + [min(samples, key=lambda s: len(s.text) + 99 * (len(s.text) < 8))]
rows = []
for s in picked:
    img = fit_resize(read_gray(s.path), 128, 2048)
    img = blots(image=img)["image"]
    rows.append(pad_to(img, 128, 2048)[:, :960])
    rows.append(np.full((6, 960), 255, np.uint8))
grid = np.vstack(rows[:-1])
grid = cv2.resize(grid, (816, round(grid.shape[0] * 816 / 960)), interpolation=cv2.INTER_AREA)
grid = np.minimum(grid // 8 * 8 + 4, 255).astype(np.uint8)   # 32 grey levels: a small file
out = REPO / "docs" / "img" / "blots_example.png"
cv2.imwrite(str(out), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
print(out, grid.shape)
