"""How much of a line's ink a rotation within the frame cuts off, at the model's input size.

    python bench/rotation_cut.py --data ../shared/data/poilus [--lines 400] [--height 32 --width 512]

Each train line of ``marking.csv`` is fitted to the input (``dataset.fit=height``), then turned by
the given angles about its centre twice: within its frame (what ``A.Rotate`` does) and on a canvas
grown to hold the whole rotated line (``A.Affine(fit_output=True)``, the project's base
augmentation). The ink (255 - gray, summed) the framed version lost relative to the grown one is the
share cut off. Prints, per angle, the mean, the 90th percentile and the share of lines losing
more than 5 %.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from stackmix.data.image import fit_resize, read_gray


def rotate(img: np.ndarray, angle: float, grow: bool) -> np.ndarray:
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    size = (w, h)
    if grow:
        c, s = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(h * s + w * c + 1), int(h * c + w * s + 1)
        m[0, 2] += nw / 2 - w / 2
        m[1, 2] += nh / 2 - h / 2
        size = (nw, nh)
    return cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderValue=255)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a prepared dataset folder (marking.csv)")
    ap.add_argument("--lines", type=int, default=400, help="the first N train lines")
    ap.add_argument("--height", type=int, default=32)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--angles", type=float, nargs="+", default=[3.0, 1.5])
    args = ap.parse_args()
    root = Path(args.data)
    with open(root / "marking.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["stage"] == "train"][: args.lines]
    lost: dict[float, list[float]] = {a: [] for a in args.angles}
    for r in rows:
        img = fit_resize(read_gray(root / r["path"]), args.height, args.width)
        for a in args.angles:
            for angle in (a, -a):
                whole = (255 - rotate(img, angle, True).astype(np.float64)).sum()
                framed = (255 - rotate(img, angle, False).astype(np.float64)).sum()
                if whole > 0:
                    lost[a].append(1 - framed / whole)
    print(f"{len(rows)} train lines of {root}, fitted to {args.height}x{args.width}")
    for a, v in lost.items():
        x = np.array(v)
        print(f"rotated by {a:g} deg within the frame: ink cut off mean {100 * x.mean():.1f} %, "
              f"90th percentile {100 * np.percentile(x, 90):.1f} %, lines losing > 5 %: "
              f"{100 * (x > 0.05).mean():.0f} %")


if __name__ == "__main__":
    main()
