"""Atomic file writes and robust image reading."""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


def _default_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_file_mode()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    If the body raises, the temporary file is removed and ``path`` keeps its old content (or stays
    absent), so a killed or failed job never leaves a half-written artefact under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix if suffix is not None else (path.suffix + ".tmp"),
        dir=path.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _FILE_MODE)  # mkstemp makes 0600 files; artefacts get normal modes
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_save_figure(fig, path: str | os.PathLike, **kwargs) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    atomic_write_bytes(path, buf.getvalue())


class ImageReadError(ValueError):
    """An image file is missing, empty, truncated or in a format that cannot be decoded."""


def check_image_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path; ``ImageReadError`` naming it if it is missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image file not found: {path}")
    if path.stat().st_size == 0:
        raise ImageReadError(f"image file is empty (0 bytes): {path}")
    return path


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """Read an image as 8-bit grayscale (H, W) uint8.

    Handles palette, alpha (composited on white), CMYK and 16-bit files via Pillow; raises
    ``ImageReadError`` naming the file for anything unreadable.
    """
    from PIL import Image, UnidentifiedImageError

    path = check_image_file(path)
    try:
        with Image.open(path) as im:
            im.load()
            return pil_to_gray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(f"cannot decode image {path}: {e}") from None


def pil_to_gray(im) -> np.ndarray:
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return arr
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
