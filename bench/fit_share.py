"""How much of the model input the text occupies under each ``dataset.fit`` mode, for short lines.

Renders synthetic lines of a chosen height range (default 40-90 px, 1-3 words: the size of HKR's
words and short phrases, which the 128 px input of the paper's datasets scales up about 2x under
``dataset.fit=height``), fits each into ``--height × --width`` in both modes with the project's
``stackmix.data.image.resize_pad`` and prints, per mode, the median over the lines of: the scale
applied, the text's height in input pixels and as a share of the input height, the text's bounding
box as a share of the input area, and the CTC frames per character (``--time-steps`` frames over
the input width).

    python bench/fit_share.py                      # 200 lines, 128×2048, 256 time steps
    python bench/fit_share.py --heights 60 120 --n 100
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stackmix.data.image import FIT_MODES, fit_scale, resize_pad  # noqa: E402

WORDS = ["almaty", "street", "region", "house", "kazpost", "district", "village", "avenue",
         "abai", "karaganda", "office", "index", "to", "of", "nur", "sultan", "post", "apt"]


def synthetic_line(rng: np.random.Generator, height: int) -> tuple[np.ndarray, str]:
    """A white line ``height`` px high holding 1-3 words in a script font: ink 70 % of the height,
    15 % margins above and below, 4 px left and right (as a line crop from a form)."""
    text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.0, 3)
    canvas = np.full((h + base + 20, w + 20), 255, np.uint8)
    cv2.putText(canvas, text, (10, h + 10), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.0, 0, 3,
                cv2.LINE_AA)
    rows = np.flatnonzero((canvas < 128).any(1))
    cols = np.flatnonzero((canvas < 128).any(0))
    ink = canvas[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ink_h = max(2, int(round(0.7 * height)))
    ink_w = max(2, int(round(ink.shape[1] * ink_h / ink.shape[0])))
    ink = cv2.resize(ink, (ink_w, ink_h), interpolation=cv2.INTER_AREA)
    top = (height - ink_h) // 2
    line = np.full((height, ink_w + 8), 255, np.uint8)
    line[top:top + ink_h, 4:4 + ink_w] = ink
    return line, text


def measure(lines, out_h: int, out_w: int, time_steps: int, fit: str) -> dict:
    scale, text_h, area, per_char = [], [], [], []
    for img, text in lines:
        x = resize_pad(img, out_h, out_w, fit=fit)
        dark = x < 128
        rows, cols = np.flatnonzero(dark.any(1)), np.flatnonzero(dark.any(0))
        th, tw = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        scale.append(fit_scale(*img.shape, out_h, out_w, fit=fit))
        text_h.append(th)
        area.append(th * tw / (out_h * out_w))
        per_char.append(tw / (out_w / time_steps) / len(text))
    return {"scale": float(np.median(scale)), "text_h": float(np.median(text_h)),
            "height_share": float(np.median(text_h)) / out_h, "area": float(np.median(area)),
            "frames_per_char": float(np.median(per_char))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="synthetic lines (default 200)")
    ap.add_argument("--heights", type=int, nargs=2, default=[40, 90], metavar=("MIN", "MAX"),
                    help="line heights in px, drawn uniformly (default 40 90)")
    ap.add_argument("--height", type=int, default=128, help="model input height (default 128)")
    ap.add_argument("--width", type=int, default=2048, help="model input width (default 2048)")
    ap.add_argument("--time-steps", type=int, default=256, help="CTC frames (default 256)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    lines = [synthetic_line(rng, int(rng.integers(a.heights[0], a.heights[1] + 1)))
             for _ in range(a.n)]
    sizes = np.array([img.shape for img, _ in lines])
    print(f"{a.n} synthetic lines, {a.heights[0]}-{a.heights[1]} px high (median "
          f"{np.median(sizes[:, 0]):.0f}×{np.median(sizes[:, 1]):.0f} px), fitted to "
          f"{a.height}×{a.width}, {a.time_steps} time steps; medians over the lines:")
    print("| dataset.fit | scale | text height | share of input height | text box / input area "
          "| frames per character |")
    print("|---|---|---|---|---|---|")
    for fit in FIT_MODES:
        m = measure(lines, a.height, a.width, a.time_steps, fit)
        print(f"| `{fit}` | {m['scale']:.2f}× | {m['text_h']:.0f} px "
              f"| {100 * m['height_share']:.0f} % | {100 * m['area']:.1f} % "
              f"| {m['frames_per_char']:.1f} |")


if __name__ == "__main__":
    main()
