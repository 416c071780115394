"""Shared machinery of the dataset converters and importers.

A converter yields :class:`Item` objects (one text line: id, stage, text, image file or pixels,
extra columns); :class:`DatasetBuilder` writes them into a temporary sibling of the output folder
(images under ``images/``, ``marking.csv`` via :func:`stackmix.data.marking.write_marking`, the
validation report as ``prepare_report.json``), validates the result with ``read_marking`` and only
then renames it into place. If anything fails, the temporary folder is removed: a half-written
dataset never appears under the final name. :class:`Report` is the validation report: counts per
stage, alphabet, length statistics and every skipped item with its reason
(:mod:`~stackmix.data.sources.report`); the helpers that read a raw download are in
:mod:`~stackmix.data.sources.raw`. Both are re-exported here, the converters' one import.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from stackmix.data.marking import MARKING, REQUIRED_COLUMNS, STAGES, read_marking, write_marking
from stackmix.data.sources.raw import (ConversionError, MissingLineFiles, find_one, missing,
                                       read_lines, read_text_file, stage_lookup)
from stackmix.data.sources.report import (REPORT_NAME, SKIP_EXAMPLES, Report, SkipFn, Skipped,
                                          build_report, skip_groups, skip_kind)

__all__ = [  # the converters' toolbox: this module's builder, and the report / raw-file helpers
    "IMAGE_EXTS", "REPORT_NAME", "SKIP_EXAMPLES", "ConversionError", "DatasetBuilder",
    "ImageProblem", "Item", "MissingLineFiles", "Report", "SkipFn", "Skipped", "build_report",
    "clean_text", "find_one", "missing", "read_lines", "read_text_file", "safe_name",
    "skip_groups", "skip_kind", "stage_lookup",
]

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


@dataclass
class Item:
    """One text line to write: ``image`` is a file to copy or a grayscale/colour array to encode."""

    sample_id: str
    stage: str
    text: str
    image: Path | np.ndarray
    extra: dict = field(default_factory=dict)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")


def clean_text(text: str) -> str:
    """Default text clean-up when writing: NFC, line breaks/tabs → one space, ends stripped.

    Other characters (non-breaking spaces, double spaces) are kept as the source has them; the
    dataset config's ``normalize`` block decides at training time.
    """
    return _BREAKS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def safe_name(sample_id: str) -> str:
    """A file-name-safe form of a sample id (other characters become ``_``)."""
    name = _SAFE.sub("_", sample_id).strip("._") or "sample"
    return name[:180]


class DatasetBuilder:
    """Write a prepared dataset atomically: ``with DatasetBuilder(out) as b: b.add(item) ...; b.commit()``.

    Without :meth:`commit` (or on an exception) the temporary folder is deleted and ``out`` is left
    as it was. ``overwrite=False`` refuses an existing non-empty ``out``.
    """

    def __init__(
        self,
        out: str | os.PathLike,
        *,
        dataset: str = "dataset",
        overwrite: bool = False,
        check_images: bool = True,
        normalizer: Callable[[str], str] | None = None,
        extra_columns: tuple[str, ...] = (),
        config_alphabet: str | None = None,
    ):
        self.out = Path(out).expanduser().resolve()
        self.dataset = dataset
        self.overwrite = overwrite
        self.check_images = check_images
        self.normalizer = normalizer or clean_text
        self.extra_columns = list(extra_columns)
        self.config_alphabet = config_alphabet
        self.rows: list[dict] = []
        self.skipped: list[Skipped] = []
        self._ids: set[str] = set()
        self._files: set[str] = set()
        self.tmp: Path | None = None
        self.report: Report | None = None

    # -- context ------------------------------------------------------------------------------
    def __enter__(self) -> "DatasetBuilder":
        if self.out.exists():
            if not self.out.is_dir():
                raise ConversionError(f"output {self.out} exists and is not a folder")
            if any(self.out.iterdir()) and not self.overwrite:
                what = "a prepared dataset" if (self.out / MARKING).exists() else "files"
                raise ConversionError(
                    f"output folder {self.out} already holds {what}; choose another out=... or "
                    "pass overwrite=true (task.overwrite=true) to replace it"
                )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.partial-", dir=self.out.parent))
        (self.tmp / "images").mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.tmp is not None and self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    # -- items --------------------------------------------------------------------------------
    def skip(self, item: str, reason: str) -> None:
        self.skipped.append(Skipped(item, reason))
        log.info("skipped %s: %s", item, reason)

    def add(self, item: Item) -> bool:
        assert self.tmp is not None, "use DatasetBuilder as a context manager"
        sid = str(item.sample_id).strip()
        if not sid:
            self.skip(repr(item.sample_id), "empty sample id")
            return False
        if sid in self._ids:
            self.skip(sid, "duplicate sample id: already used by an earlier line")
            return False
        if item.stage not in STAGES:
            self.skip(sid, f"unknown stage {item.stage!r}: must be one of {', '.join(STAGES)}")
            return False
        text = self.normalizer(item.text or "")
        if not text.strip():
            self.skip(sid, "empty transcription")
            return False
        try:
            rel = self._write_image(sid, item.image)
        except ImageProblem as e:
            self.skip(sid, str(e))
            return False
        self._ids.add(sid)
        row = {"sample_id": sid, "path": rel, "stage": item.stage, "text": text}
        for k, v in (item.extra or {}).items():
            if k in REQUIRED_COLUMNS:
                continue
            if k not in self.extra_columns:
                self.extra_columns.append(k)
            row[k] = "" if v is None else str(v)
        self.rows.append(row)
        return True

    def add_file(self, name: str, data: bytes) -> None:
        """Write an extra file (a README, fixture pages) into the dataset folder; ``name`` is
        relative and must stay inside it."""
        assert self.tmp is not None, "use DatasetBuilder as a context manager"
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or rel.as_posix() in (MARKING, REPORT_NAME):
            raise ValueError(f"extra file name {name!r} is not a plain relative path")
        dest = self.tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)

    def counts(self) -> dict:
        """Lines added so far per stage."""
        return {st: sum(r["stage"] == st for r in self.rows) for st in STAGES}

    def add_all(self, items: Iterable[Item]) -> None:
        for it in items:
            self.add(it)

    def _unique_file(self, stem: str, ext: str) -> str:
        name = f"{stem}{ext}"
        k = 1
        while name.lower() in self._files:
            k += 1
            name = f"{stem}_{k}{ext}"
        self._files.add(name.lower())
        return name

    def _write_image(self, sid: str, image) -> str:
        import cv2

        stem = safe_name(sid)
        if isinstance(image, np.ndarray):
            if image.size == 0 or image.ndim not in (2, 3):
                raise ImageProblem("empty crop: the region has zero width or height")
            ok, buf = cv2.imencode(".png", image)
            if not ok:
                raise ImageProblem("cannot encode the crop as PNG")
            name = self._unique_file(stem, ".png")
            (self.tmp / "images" / name).write_bytes(buf.tobytes())
            return f"images/{name}"
        src = Path(image)
        if not src.is_file():
            raise ImageProblem(f"missing image: {src} does not exist")
        if self.check_images:
            from stackmix.data.image import ImageReadError, read_gray

            try:
                read_gray(src)
            except (ImageReadError, ValueError) as e:
                raise ImageProblem(f"unreadable image: {e}") from None
        ext = src.suffix.lower() if src.suffix.lower() in IMAGE_EXTS else ".png"
        name = self._unique_file(stem, ext)
        shutil.copyfile(src, self.tmp / "images" / name)
        return f"images/{name}"

    # -- finish -------------------------------------------------------------------------------
    def commit(self, *, allow_empty_stages: bool = True) -> Report:
        """Write marking.csv and the report, validate, and move the folder into place."""
        assert self.tmp is not None, "commit() outside the with-block"
        if not self.rows:
            raise ConversionError(
                f"no usable line for {self.dataset!r}: every item was skipped "
                f"({len(self.skipped)} skipped; first reasons: "
                + "; ".join(str(s) for s in self.skipped[:5]) + ")"
            )
        if not allow_empty_stages:
            missing = [st for st in STAGES if not any(r["stage"] == st for r in self.rows)]
            if missing:
                raise ConversionError(f"{self.dataset!r}: no line in stage(s) {', '.join(missing)}")
        write_marking(self.tmp, self.rows, extra_columns=tuple(self.extra_columns))
        marking = read_marking(self.tmp, on_error="raise", check_images=True)
        assert len(marking.samples) == len(self.rows)
        report = build_report(self.dataset, self.out, self.rows, self.skipped, self.config_alphabet)
        (self.tmp / REPORT_NAME).write_text(
            json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if self.out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-", dir=self.out.parent))
            old.rmdir()
            os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.out)
        self.tmp = None
        self.report = report
        return report


class ImageProblem(ValueError):
    pass
