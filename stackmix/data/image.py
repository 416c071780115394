"""Resize a line image to fit the model input, keeping the aspect ratio, padding with white."""
from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 255


def fit_scale(h: int, w: int, out_h: int, out_w: int) -> float:
    """Scale factor that makes an (h, w) image fit inside (out_h, out_w)."""
    return min(out_h / h, out_w / w)


def fit_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Scale ``img`` (H, W[, C] uint8) by ``fit_scale`` so it fits inside ``out_h × out_w``."""
    h, w = img.shape[:2]
    s = fit_scale(h, w, out_h, out_w)
    nh = max(1, min(out_h, int(round(h * s))))
    nw = max(1, min(out_w, int(round(w * s))))
    if (nh, nw) == (h, w):
        return img
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(img, (nw, nh), interpolation=interp)
    if resized.ndim == 2 and img.ndim == 3:
        resized = resized[..., None]
    return resized


def pad_to(img: np.ndarray, out_h: int, out_w: int, pad_value: int = PAD_VALUE) -> np.ndarray:
    """Put ``img`` at the top-left of a white ``out_h × out_w`` canvas (cropping any excess)."""
    h, w = img.shape[:2]
    if (h, w) == (out_h, out_w):
        return img
    out = np.full((out_h, out_w) + img.shape[2:], pad_value, dtype=np.uint8)
    out[: min(h, out_h), : min(w, out_w)] = img[:out_h, :out_w]
    return out


def resize_pad(img: np.ndarray, out_h: int, out_w: int, pad_value: int = PAD_VALUE) -> np.ndarray:
    """Scale ``img`` (H, W[, C] uint8) to fit ``out_h × out_w`` and pad right/bottom with white.

    The line keeps its aspect ratio and sits at the top-left corner, so pixel ``x`` of the
    original maps to ``x * fit_scale(...)`` in the output (used by char masks).
    """
    return pad_to(fit_resize(img, out_h, out_w), out_h, out_w, pad_value)
