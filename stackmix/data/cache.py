"""Decoded, resized line images cached once per dataset in one memory-mappable file.

Layout (in ``<cache_dir>/images/``): ``<name>-<key>.npy`` holds every fitted image (height ≤
image_h, width ≤ image_w, not padded) as one flat uint8 array; ``<name>-<key>.index.npy`` holds
``(offset, height, width)`` per sample; ``<name>-<key>.json`` (written last, atomically) marks the
cache complete. ``key`` hashes the format version, the target size and every source file's path,
size and modification time, so a changed image, a changed list of samples or another size makes a
new cache. DataLoader workers open the file with ``mmap_mode='r'`` and share the OS page cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from stackmix.data.image import fit_resize, fit_scale
from stackmix.fs import atomic_path, atomic_write_json
from stackmix.data.image import ImageReadError, check_image_file, read_gray

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def cache_key(paths: Sequence[Path], image_h: int, image_w: int) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}:{image_h}x{image_w}\n".encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def fitted_shape(path: Path, image_h: int, image_w: int) -> tuple[int, int]:
    """(height, width) the image will have after ``fit_resize``, from its header only."""
    check_image_file(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception as e:  # noqa: BLE001 - any decoder error is reported with the file name
        raise ImageReadError(f"cannot decode image {path}: {e}") from None
    if w == 0 or h == 0:
        raise ImageReadError(f"image has zero width or height: {path}")
    s = fit_scale(h, w, image_h, image_w)
    return max(1, min(image_h, int(round(h * s)))), max(1, min(image_w, int(round(w * s))))


@dataclass
class ImageCache:
    """Fitted images by position; ``failed`` maps positions whose file could not be decoded to
    the reason (their slot holds a 1×1 white placeholder)."""

    data_path: Path
    index: np.ndarray  # (N, 3) int64: offset, height, width
    failed: dict[int, str] = field(default_factory=dict)
    _data: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        if self._data is None:
            self._data = np.load(self.data_path, mmap_mode="r")
        off, h, w = (int(v) for v in self.index[i])
        return self._data[off : off + h * w].reshape(h, w)

    def __getstate__(self) -> dict:  # never pickle the mapping into workers
        return {"data_path": self.data_path, "index": self.index, "failed": self.failed,
                "_data": None}

    @property
    def nbytes(self) -> int:
        return int(self.index[:, 1].astype(np.int64) @ self.index[:, 2].astype(np.int64))


def open_or_build(paths: Sequence[Path], image_h: int, image_w: int, cache_dir: str | Path,
                  name: str, workers: int = 4) -> ImageCache:
    """The cache for ``paths`` at this size, built (with a progress bar) if absent or stale.

    Files that cannot be decoded are listed in ``ImageCache.failed`` (position → reason); the
    caller decides whether that is an error or a counted skip.
    """
    paths = [Path(p) for p in paths]
    key = cache_key(paths, image_h, image_w)
    base = Path(cache_dir).expanduser() / "images" / f"{name}-{image_h}x{image_w}-{key}"
    data_path = base.with_suffix(".npy")
    index_path = base.parent / (base.name + ".index.npy")
    meta_path = base.with_suffix(".json")
    if meta_path.is_file() and data_path.is_file() and index_path.is_file():
        index = np.load(index_path)
        meta = json.loads(meta_path.read_text())
        if len(index) == len(paths):
            return ImageCache(data_path, index, {int(k): v for k, v in meta.get("failed", {}).items()})
    return _build(paths, image_h, image_w, data_path, index_path, meta_path, workers)


def _build(paths, image_h, image_w, data_path, index_path, meta_path, workers) -> ImageCache:
    failed: dict[int, str] = {}

    def shape_of(i: int) -> tuple[int, int]:
        try:
            return fitted_shape(paths[i], image_h, image_w)
        except (ImageReadError, OSError) as e:
            failed[i] = str(e)
            return (1, 1)

    with ThreadPoolExecutor(workers) as pool:
        shapes = list(tqdm(pool.map(shape_of, range(len(paths))), total=len(paths),
                           desc="image cache: sizes", leave=False))
    sizes = np.array([h * w for h, w in shapes], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    index = np.column_stack([offsets, np.array(shapes, dtype=np.int64).reshape(-1, 2)])
    total = int(sizes.sum())

    def load(i: int) -> tuple[int, np.ndarray]:
        blank = np.full(shapes[i], 255, np.uint8)
        if i in failed:
            return i, blank
        try:
            img = fit_resize(read_gray(paths[i]), image_h, image_w)
        except ImageReadError as e:
            failed[i] = str(e)
            return i, blank
        if img.shape != shapes[i]:  # the header promised another size: trust the pixels' scale
            img = cv2.resize(img, shapes[i][::-1], interpolation=cv2.INTER_AREA)
        return i, img

    with atomic_path(data_path, suffix=".npy.tmp") as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(max(total, 1),))
        with ThreadPoolExecutor(workers) as pool:
            for i, img in tqdm(pool.map(load, range(len(paths))), total=len(paths),
                               desc=f"image cache: decoding {len(paths)} lines"):
                arr[offsets[i] : offsets[i] + sizes[i]] = img.reshape(-1)
        arr.flush()
        del arr
    with atomic_path(index_path, suffix=".npy.tmp") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, index)
    atomic_write_json(meta_path, {"version": FORMAT_VERSION, "image_h": image_h,
                                  "image_w": image_w, "count": len(paths), "bytes": total,
                                  "failed": {str(k): v for k, v in sorted(failed.items())}})
    log.info("image cache: %d lines, %.1f MB in %s", len(paths), total / 1e6, data_path)
    return ImageCache(data_path, index, dict(failed))
