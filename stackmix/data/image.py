"""Line images: decoding any common file into 8-bit grayscale, fitting it to the model input.

Decoding (``read_gray``) applies the EXIF orientation, composites transparency on white, scales
images of more than 8 bits (16-bit, 32-bit integer, float) by the range their values actually use,
and reads the first frame of a multi-frame file (animated GIF, multi-page TIFF). Anything that
cannot be decoded, including files over Pillow's decompression-bomb limit, raises
``ImageReadError`` naming the file. ``image_remarks`` names what is suspicious about a decoded
image (blank, degenerate aspect ratio, several frames) so callers can warn with a count.

Fitting (``dataset.fit``, one implementation per mode, used by training, the image cache, char
masks, inference and the ONNX check): a line keeps its aspect ratio and never leaves the
``image_h × image_w`` input; padding to the full size with white happens last (``pad_to``), per
batch item. The two modes (``FIT_MODES``):

* ``height`` (default): scaled up or down to the input height (further down if it would be wider
  than the input), at the top-left corner;
* ``paper`` (the original StackMix-OCR, ``experiment=paper``): scaled down only when larger than
  the input, never up; centred vertically, left-aligned.

Both are left-aligned, so input column ``x`` is original column ``x / fit_scale(...)`` in either
mode (what char masks rely on).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

PAD_VALUE = 255
#: a fitted side shorter than this many pixels holds nearly nothing of the line
DEGENERATE_SIDE = 4


class ImageReadError(ValueError):
    """An image file is missing, empty, truncated, too large or cannot be decoded."""


def check_image_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path; ``ImageReadError`` naming it if it is missing, a folder or empty."""
    path = Path(path)
    if path.is_dir():
        raise ImageReadError(f"image path is a folder, not a file: {path}")
    if not path.is_file():
        raise ImageReadError(f"image file not found: {path}")
    if path.stat().st_size == 0:
        raise ImageReadError(f"image file is empty (0 bytes): {path}")
    return path


def open_image(path: str | os.PathLike):
    """``PIL.Image.open`` with errors (decoder failures, decompression bombs) as ``ImageReadError``.

    Use as a context manager; the caller reads the header (``size``, ``n_frames``) or pixels."""
    import warnings

    from PIL import Image

    path = check_image_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(_bomb_message(path, e)) from None
    except Exception as e:  # noqa: BLE001 - any decoder error is reported with the file name
        raise ImageReadError(f"cannot decode image {path}: {e}") from None


def _bomb_message(path: Path, e: Exception) -> str:
    from PIL import Image

    return (f"image too large to decode safely: {path} ({e}). Pillow refuses images over "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels (decompression-bomb limit); crop or downscale it, "
            "or raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted")


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """Read an image as 8-bit grayscale (H, W) uint8 (see the module docstring)."""
    from PIL import Image, ImageOps

    path = Path(path)
    with open_image(path) as im:
        try:
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            im.load()
            im = ImageOps.exif_transpose(im)
            return pil_to_gray(im)
        except Image.DecompressionBombError as e:
            raise ImageReadError(_bomb_message(path, e)) from None
        except (OSError, SyntaxError, ValueError, TypeError) as e:
            raise ImageReadError(f"cannot decode image {path}: {e}") from None


def frame_count(path: str | os.PathLike) -> int:
    with open_image(path) as im:
        return int(getattr(im, "n_frames", 1))


def _scale_high_depth(arr: np.ndarray, mode: str) -> np.ndarray:
    """A 16/32-bit integer or float image as uint8, scaled by the range its values use:
    integers by the smallest ``2**k - 1`` (k ≥ 8) holding the maximum (12-bit data in a 16-bit PNG
    is scaled by 4095, not 65535); floats in [0, 1] by 1, others by their finite min..max.
    NaN/inf pixels become white (paper)."""
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    vals = arr[finite]
    if vals.size == 0:
        return np.full(arr.shape, PAD_VALUE, np.uint8)
    lo, hi = float(vals.min()), float(vals.max())
    if mode == "F":
        if lo >= 0 and hi <= 1:
            lo, hi = 0.0, 1.0
        elif lo >= 0 and hi <= 255:
            lo, hi = 0.0, 255.0
    elif lo >= 0:
        bits = max(8, int(np.ceil(np.log2(hi + 1))))
        lo, hi = 0.0, float(2**bits - 1)
    span = hi - lo if hi > lo else 1.0
    out = np.where(finite, (arr - lo) / span * 255.0 + 0.5, 255.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def pil_to_gray(im) -> np.ndarray:
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = _scale_high_depth(np.asarray(im), "F" if im.mode == "F" else "I")
    else:
        if im.mode == "P":
            im = im.convert("RGBA")
        if im.mode in ("RGBA", "LA", "PA"):
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im.convert("RGBA"))
        if im.mode != "L":
            im = im.convert("RGB").convert("L")
        arr = np.asarray(im, dtype=np.uint8)
    if arr.size == 0:
        raise ValueError("image has zero width or height")
    return arr


def image_remarks(h: int, w: int, out_h: int, out_w: int, img: np.ndarray | None = None,
                  frames: int = 1) -> list[str]:
    """What is suspicious about an (h, w) image fitted into ``out_h × out_w``: ``blank`` (one
    value everywhere), ``degenerate aspect ratio`` (a fitted side under ``DEGENERATE_SIDE`` px),
    ``multi-frame`` (only the first frame is used). The same in both fit modes: they differ only
    for lines that fit already, whose sides a ``paper`` fit keeps and a ``height`` fit enlarges."""
    out = []
    fh, fw = fitted_size(h, w, out_h, out_w)
    if min(fh, fw) < DEGENERATE_SIDE and min(h, w) >= DEGENERATE_SIDE:
        out.append(f"degenerate aspect ratio ({w}×{h} px fitted to {fw}×{fh})")
    if img is not None and img.size and int(img.min()) == int(img.max()):
        out.append(f"blank (every pixel is {int(img.min())})")
    if frames > 1:
        out.append(f"multi-frame ({frames} frames; the first is used)")
    return out


FIT_MODES = ("height", "paper")
DEFAULT_FIT = "height"


def check_fit(fit: str) -> str:
    """``fit`` if it names a fitting mode, else ``ValueError`` listing the modes."""
    if fit not in FIT_MODES:
        raise ValueError(f"unknown image fit mode {fit!r}: expected 'height' (scale every line to "
                         "the input height, the default) or 'paper' (scale down only, centred "
                         "vertically, as the original StackMix-OCR); set dataset.fit")
    return fit


def fit_scale(h: int, w: int, out_h: int, out_w: int, *, fit: str = DEFAULT_FIT) -> float:
    """Scale factor that fits an (h, w) image inside (out_h, out_w): ``height`` scales up or
    down, ``paper`` only down (1 for a line that already fits)."""
    s = min(out_h / h, out_w / w)
    return min(1.0, s) if check_fit(fit) == "paper" else s


def fitted_size(h: int, w: int, out_h: int, out_w: int, *,
                fit: str = DEFAULT_FIT) -> tuple[int, int]:
    """(height, width) of an (h, w) image after ``fit_resize``."""
    s = fit_scale(h, w, out_h, out_w, fit=fit)
    return max(1, min(out_h, int(round(h * s)))), max(1, min(out_w, int(round(w * s))))


def fit_resize(img: np.ndarray, out_h: int, out_w: int, *, fit: str = DEFAULT_FIT) -> np.ndarray:
    """Scale ``img`` (H, W[, C] uint8) by ``fit_scale`` so it fits inside ``out_h × out_w``."""
    h, w = img.shape[:2]
    nh, nw = fitted_size(h, w, out_h, out_w, fit=fit)
    if (nh, nw) == (h, w):
        return img
    interp = cv2.INTER_AREA if fit_scale(h, w, out_h, out_w, fit=fit) < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(img, (nw, nh), interpolation=interp)
    if resized.ndim == 2 and img.ndim == 3:
        resized = resized[..., None]
    return resized


def fit_top(h: int, out_h: int, *, fit: str = DEFAULT_FIT) -> int:
    """First input row of a fitted line ``h`` px high: 0 (``height``) or centred (``paper``)."""
    return max(0, (out_h - h) // 2) if check_fit(fit) == "paper" else 0


def pad_to(img: np.ndarray, out_h: int, out_w: int, pad_value: int = PAD_VALUE, *,
           fit: str = DEFAULT_FIT) -> np.ndarray:
    """Put a fitted ``img`` on a white ``out_h × out_w`` canvas, left-aligned, at the row
    ``fit_top`` gives (cropping any excess)."""
    h, w = img.shape[:2]
    top = fit_top(h, out_h, fit=fit)
    if (h, w) == (out_h, out_w):
        return img
    out = np.full((out_h, out_w) + img.shape[2:], pad_value, dtype=np.uint8)
    rows, cols = min(h, out_h - top), min(w, out_w)
    out[top:top + rows, :cols] = img[:rows, :cols]
    return out


def resize_pad(img: np.ndarray, out_h: int, out_w: int, pad_value: int = PAD_VALUE, *,
               fit: str = DEFAULT_FIT) -> np.ndarray:
    """A gray or colour line as the model's ``out_h × out_w`` input: ``fit_resize`` then ``pad_to``
    in the mode ``fit``. Pixel ``x`` of the original maps to ``x * fit_scale(...)`` in the output
    in both modes (used by char masks)."""
    return pad_to(fit_resize(img, out_h, out_w, fit=fit), out_h, out_w, pad_value, fit=fit)
