"""Converters from public datasets' official layouts to the prepared format (marking.csv + images).

Each module ``stackmix.data.sources.<name>`` documents one dataset (where it is published, what
to download, the exact layout expected, the split, the normalization of its transcriptions, the
alphabet) and exposes ``iter_items(raw, options, skip)`` yielding :class:`~.common.Item`.
:func:`convert` runs one converter into an output folder atomically and returns the report.
"""
from __future__ import annotations

import importlib
import logging
import os
import tempfile
from pathlib import Path
from types import ModuleType

from stackmix.data.download import archive_kind, extract
from stackmix.data.sources.common import ConversionError, DatasetBuilder, Item, Report
from stackmix.text import Normalizer

log = logging.getLogger(__name__)

CONVERTERS = (
    "bentham", "peter", "hkr", "iam", "iam_tbluche", "saintgall", "washington",
    "schwerin", "konzil", "patzig", "ricordi", "schiller", "poilus", "original_archive",
)

_ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".tbz", ".txz", ".tar", ".zip")


def get_converter(name: str) -> ModuleType:
    if name not in CONVERTERS:
        raise ConversionError(f"unknown converter {name!r}; known: {', '.join(CONVERTERS)}")
    return importlib.import_module(f"stackmix.data.sources.{name}")


def archive_stem(path: Path) -> str:
    name = path.name
    for suf in _ARCHIVE_SUFFIXES:
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return path.stem


def unpack_archives(raw: Path) -> list[Path]:
    """Extract every archive lying directly in ``raw`` into ``raw/<archive stem>/`` (once).

    Archives already extracted (their folder exists) are left alone; extraction is atomic, so an
    interrupted one is simply redone next time.
    """
    done = []
    for p in sorted(raw.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.name.endswith(".part"):
            continue
        if not p.name.lower().endswith(_ARCHIVE_SUFFIXES):
            continue
        if archive_kind(p) is None:
            continue
        target = raw / archive_stem(p)
        if target.exists():
            continue
        log.info("extracting %s into %s", p.name, target)
        extract(p, target)
        done.append(target)
    return done


def convert(
    converter: str,
    raw: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dataset: str | None = None,
    options: dict | None = None,
    overwrite: bool = False,
    check_images: bool = True,
    config_alphabet: str | None = None,
    normalizer: Normalizer | None = None,
    unpack: bool = True,
) -> Report:
    """Convert the raw download at ``raw`` (a folder, or one archive) into ``out``; return the report.

    ``raw`` may hold the downloaded archives themselves: they are extracted next to them first
    (``unpack``). Nothing is written under ``out`` unless the whole conversion succeeds.
    """
    mod = get_converter(converter)
    raw = Path(raw).expanduser().resolve()
    if not raw.exists():
        raise ConversionError(
            f"raw data not found: {raw} does not exist. Download the dataset first "
            "(see README 'Datasets'), or pass task.download=true where it is downloadable."
        )
    options = dict(options or {})
    name = dataset or converter
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.raw-", dir=out.parent) as scratch:
        if raw.is_file():
            if archive_kind(raw) is None:
                raise ConversionError(f"raw={raw} is a file but not a tar/zip archive")
            raw = extract(raw, Path(scratch) / archive_stem(raw))
        elif unpack:
            unpack_archives(raw)
        with DatasetBuilder(out, dataset=name, overwrite=overwrite, check_images=check_images,
                            normalizer=normalizer, config_alphabet=config_alphabet) as builder:
            for item in mod.iter_items(raw, options, builder.skip):
                builder.add(item)
            if hasattr(mod, "extra_files") and builder.rows:
                for name, data in mod.extra_files(raw, options, builder.counts()).items():
                    builder.add_file(name, data)
            report = builder.commit()
    log.info("%s", report.summary())
    return report


__all__ = ["CONVERTERS", "ConversionError", "Item", "Report", "convert", "get_converter",
           "unpack_archives", "archive_stem"]
