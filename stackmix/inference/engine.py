"""Batch recognition of image files with a :class:`~stackmix.inference.recognizer.Recognizer`.

:func:`recognize` runs a recognizer + decoder over many image paths in batches (images decoded
in background workers, a tqdm progress bar, unreadable files raised or skipped and counted);
:func:`expand_inputs` turns files, folders and glob patterns into the list of images.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from stackmix.data.image import DEFAULT_FIT, ImageReadError, read_gray, resize_pad
from stackmix.inference.recognizer import Recognizer

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- batch recognition
@dataclass
class LineResult:
    path: str
    text: str
    confidence: float
    char_probs: list[float]


@dataclass
class RecognitionRun:
    results: list[LineResult]
    skipped: list[tuple[str, str]]  # (path, reason)


class _ImageFiles(torch.utils.data.Dataset):
    """Image files as the recognizer's inputs (its size and fit mode; picklable for workers)."""

    def __init__(self, paths: Sequence[str | Path], image_h: int, image_w: int, fit: str):
        self.paths = [str(p) for p in paths]
        self.image_h, self.image_w, self.fit = image_h, image_w, fit

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            img = resize_pad(read_gray(self.paths[i]), self.image_h, self.image_w, fit=self.fit)
            return i, img, None
        except ImageReadError as e:
            return i, None, str(e)


def _collate(items):
    return items


def iter_batches(recognizer: Recognizer, paths: Sequence[str | Path], batch_size: int = 16,
                 num_workers: int = 0) -> Iterator[tuple[list[int], np.ndarray | None, list]]:
    """Yield (indices, uint8 batch (B, H, W) or None, [(index, error)]) in input order."""
    fit = str(getattr(recognizer, "fit", None) or DEFAULT_FIT)  # as Recognizer.prepare
    ds = _ImageFiles(paths, recognizer.image_h, recognizer.image_w, fit)
    if len(paths) <= batch_size:
        num_workers = 0  # one batch: starting workers would cost more than it saves
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False,
                                         num_workers=num_workers, collate_fn=_collate)
    for items in loader:
        ok = [(i, img) for i, img, err in items if err is None]
        bad = [(i, err) for i, _, err in items if err is not None]
        idx = [i for i, _ in ok]
        batch = np.stack([img for _, img in ok]) if ok else None
        yield idx, batch, bad


def recognize(
    recognizer: Recognizer,
    paths: Sequence[str | Path],
    decoders: dict[str, Any] | Any,
    batch_size: int = 16,
    num_workers: int = 0,
    on_error: str = "raise",
    progress: bool = True,
) -> dict[str, RecognitionRun] | RecognitionRun:
    """Recognize every image of ``paths`` (kept in order) with one decoder or a dict of them.

    ``on_error``: ``"raise"`` stops at the first unreadable image (the error names the file);
    ``"skip"`` leaves it out and records it in ``RecognitionRun.skipped``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    single = not isinstance(decoders, dict)
    decs = {"default": decoders} if single else dict(decoders)
    runs = {k: RecognitionRun([], []) for k in decs}
    skipped: list[tuple[str, str]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="recognize", unit="line", dynamic_ncols=True,
                   disable=None)
    try:
        for idx, batch, bad in iter_batches(recognizer, paths, batch_size, num_workers):
            for i, err in bad:
                if on_error == "raise":
                    raise ImageReadError(err)
                log.warning("skipping unreadable image: %s", err)
                skipped.append((str(paths[i]), err))
            if batch is not None:
                lp = recognizer.log_probs(batch)
                for name, dec in decs.items():
                    hyps = dec(lp)
                    run = runs[name]
                    for i, h in zip(idx, hyps):
                        run.results.append(LineResult(str(paths[i]), h.text, h.confidence,
                                                      h.char_probs))
            if bar is not None:
                bar.update(len(idx) + len(bad))
    finally:
        if bar is not None:
            bar.close()
    for run in runs.values():
        run.skipped = list(skipped)
    return runs["default"] if single else runs


def expand_inputs(inputs: str | Iterable[str], recursive: bool = True,
                  extensions: Iterable[str] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
                                               ".webp", ".gif", ".pgm", ".ppm")) -> list[Path]:
    """Image files from files, folders (their images, sorted) and glob patterns, in given order.

    A path that does not exist and matches nothing raises ``FileNotFoundError`` naming it.
    Duplicates are kept once.
    """
    import glob

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    exts = {e.lower() for e in extensions}
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in inputs:
        item = str(item)
        p = Path(item).expanduser()
        if p.is_file():
            add(p)
        elif p.is_dir():
            it = p.rglob("*") if recursive else p.iterdir()
            files = sorted(f for f in it if f.is_file() and f.suffix.lower() in exts)
            if not files:
                log.warning("no images (%s) in folder %s", ", ".join(sorted(exts)), p)
            for f in files:
                add(f)
        elif any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(str(p), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise FileNotFoundError(f"no file matches the pattern {item!r}")
            for f in files:
                add(f)
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return out
