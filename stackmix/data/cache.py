"""Decoded line images cached once per dataset in one memory-mappable file.

Layout (in ``<cache_dir>/images/``): ``<name>-<size>-<key>.npy`` holds every line as one flat uint8
array, **without padding** and at most at the model's scale: a line larger than ``image_h ×
image_w`` is stored fitted (downscaled), a smaller one at its own size (it is scaled up when read
if ``dataset.fit=height``, with the same ``fit_resize`` as without a cache, so the pixels are
identical). Padding to the model's input size happens per batch item. What is stored is the same
in both fit modes (they scale a larger line down alike and differ only in what they do with a
smaller one, which is stored as it is), so the fit mode is applied when an image is read and one
cache serves both: switching ``dataset.fit`` never rebuilds it nor reads pixels fitted the other
way. ``<...>.index.npy`` holds ``(offset, height, width)``
per sample; ``<...>.json`` (written last, atomically) marks the cache complete and records
unreadable files and remarks (blank images, degenerate aspect ratios, multi-frame files).

``key`` hashes the format version, the target size and every source file's path, size and
modification time, so a changed image, a changed list of samples or another size makes a new
cache. DataLoader workers open the file with ``mmap_mode='r'`` and share the OS page cache.

The data file's space is reserved before it is written (a full disk is an ``OSError`` naming the
folder and the bytes needed, not a SIGBUS), and temporary files that a killed build left behind
are removed on the next start.
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
from tqdm import tqdm

from stackmix.data.image import (DEFAULT_FIT, ImageReadError, check_fit, fit_resize, fit_scale,
                                 image_remarks, open_image, read_gray)
from stackmix.fs import atomic_path, atomic_write_json, remove_stale_temporaries, reserve

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
EXIF_ORIENTATION = 0x0112


def cache_key(paths: Sequence[Path], image_h: int, image_w: int) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}:{image_h}x{image_w}\n".encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def stored_shape(h: int, w: int, image_h: int, image_w: int) -> tuple[int, int]:
    """The (height, width) a (h, w) image is stored at: fitted if larger, else as it is (the same
    in every fit mode)."""
    s = fit_scale(h, w, image_h, image_w, fit="paper")
    if s >= 1:
        return h, w
    return max(1, min(image_h, int(round(h * s)))), max(1, min(image_w, int(round(w * s))))


def header_info(path: Path) -> tuple[int, int, int]:
    """(height, width, frames) from the image header (after its EXIF orientation)."""
    with open_image(path) as im:
        try:
            w, h = im.size
            frames = int(getattr(im, "n_frames", 1))
            if im.getexif().get(EXIF_ORIENTATION) in (5, 6, 7, 8):  # rotated by 90°
                w, h = h, w
        except Exception as e:  # noqa: BLE001 - any decoder error is reported with the file name
            raise ImageReadError(f"cannot decode image {path}: {e}") from None
    if w == 0 or h == 0:
        raise ImageReadError(f"image has zero width or height: {path}")
    return h, w, frames


@dataclass
class ImageCache:
    """Images by position, fitted in the mode ``fit`` when read; ``failed`` maps positions whose
    file could not be decoded to the reason (their slot holds a 1×1 white placeholder);
    ``remarks`` maps positions to what is suspicious about the image (see
    ``stackmix.data.image.image_remarks``)."""

    data_path: Path
    index: np.ndarray  # (N, 3) int64: offset, height, width
    image_h: int
    image_w: int
    failed: dict[int, str] = field(default_factory=dict)
    remarks: dict[int, list[str]] = field(default_factory=dict)
    fit: str = DEFAULT_FIT
    _data: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.index)

    def stored(self, i: int) -> np.ndarray:
        """The stored pixels of image ``i`` (read-only view of the memory map)."""
        if self._data is None:
            self._data = np.load(self.data_path, mmap_mode="r")
        off, h, w = (int(v) for v in self.index[i])
        return self._data[off : off + h * w].reshape(h, w)

    def __getitem__(self, i: int) -> np.ndarray:
        """Image ``i`` fitted into ``image_h × image_w`` in the mode ``fit`` (not padded)."""
        return fit_resize(self.stored(i), self.image_h, self.image_w, fit=self.fit)

    def __getstate__(self) -> dict:  # never pickle the mapping into workers
        return {**self.__dict__, "_data": None}


def open_or_build(paths: Sequence[Path], image_h: int, image_w: int, cache_dir: str | Path,
                  name: str, workers: int = 4, fit: str = DEFAULT_FIT) -> ImageCache:
    """The cache for ``paths`` at this size, built (with a progress bar) if absent or stale, read
    in the fit mode ``fit`` (which does not change what is stored, see the module docstring).

    Files that cannot be decoded are listed in ``ImageCache.failed`` (position → reason); the
    caller decides whether that is an error or a counted skip.
    """
    check_fit(fit)
    paths = [Path(p) for p in paths]
    folder = Path(cache_dir).expanduser() / "images"
    remove_stale_temporaries(folder)
    key = cache_key(paths, image_h, image_w)
    base = folder / f"{name}-{image_h}x{image_w}-{key}"
    data_path = base.with_suffix(".npy")
    index_path = base.parent / (base.name + ".index.npy")
    meta_path = base.with_suffix(".json")
    if meta_path.is_file() and data_path.is_file() and index_path.is_file():
        index = np.load(index_path)
        meta = json.loads(meta_path.read_text())
        if len(index) == len(paths):
            return ImageCache(data_path, index, image_h, image_w,
                              {int(k): v for k, v in meta.get("failed", {}).items()},
                              {int(k): v for k, v in meta.get("remarks", {}).items()}, fit)
    cache = _build(paths, image_h, image_w, data_path, index_path, meta_path, workers)
    cache.fit = fit
    return cache


def _build(paths, image_h, image_w, data_path, index_path, meta_path, workers) -> ImageCache:
    failed: dict[int, str] = {}
    remarks: dict[int, list[str]] = {}
    frames: dict[int, int] = {}

    def shape_of(i: int) -> tuple[int, int]:
        try:
            h, w, frames[i] = header_info(paths[i])
            return stored_shape(h, w, image_h, image_w)
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
            img = read_gray(paths[i])
        except ImageReadError as e:
            failed[i] = str(e)
            return i, blank
        notes = image_remarks(*img.shape, image_h, image_w, img, frames.get(i, 1))
        if notes:
            remarks[i] = notes
        want = stored_shape(*img.shape, image_h, image_w)
        if want != img.shape:
            img = fit_resize(img, image_h, image_w, fit="paper")
        if img.shape != shapes[i]:  # the header promised another size: trust the pixels' scale
            img = cv2.resize(img, shapes[i][::-1], interpolation=cv2.INTER_AREA)
        return i, img

    with atomic_path(data_path, suffix=".npy.tmp") as tmp:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                  "fortran_order": False, "shape": (max(total, 1),)}
        with open(tmp, "r+b") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            start = fh.tell()
            reserve(fh, start + max(total, 1), data_path)  # disk full: a message, not a SIGBUS
        arr = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=start, shape=(max(total, 1),))
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
                                  "failed": {str(k): v for k, v in sorted(failed.items())},
                                  "remarks": {str(k): v for k, v in sorted(remarks.items())}})
    log.info("image cache: %d lines, %.1f MB in %s", len(paths), total / 1e6, data_path)
    return ImageCache(data_path, index, image_h, image_w, dict(failed), dict(remarks))


class CachedImages:
    """Picklable ``index → fitted image`` view of the shared image cache for one split."""

    def __init__(self, cache: ImageCache, positions: list[int]):
        self.cache = cache
        self.positions = positions

    def __call__(self, index: int):
        return self.cache[self.positions[index]]
