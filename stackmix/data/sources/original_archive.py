"""The original StackMix-OCR authors' prepared archives → prepared dataset.

The authors of StackMix-OCR (github.com/ai-forever/StackMix-OCR, ``scripts/download_dataset.py``)
published their converted datasets as ``<name>.tar.gz`` on Google Drive (file ids in each
dataset config's ``source.original_archive``). Each holds ``<name>/marking.csv`` (``sample_id,
path, stage, text``) and ``<name>/images/...``; its paths start with ``<name>/`` because they are
relative to the folder *containing* the dataset. This converter rewrites them relative to the
dataset folder (the Foundation format), keeps the split and the texts as they are, and copies the
images. No checksums were published: the SHA-256 of the first download is recorded (see
:class:`stackmix.data.download.ChecksumBook`).

Expected layout under ``raw`` (the archive itself, or where it was extracted):
    <name>/marking.csv
    <name>/images/...
Options: ``name`` (the folder name inside the archive; defaults to the dataset name).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

from stackmix.data.marking import STAGES
from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_text_file,
)


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    name = str(options.get("name") or "")
    candidates = [f"{name}/marking.csv"] if name else []
    marking = find_one(raw, candidates + ["marking.csv"], what="marking.csv of the original archive")
    folder = marking.parent
    rows = csv.DictReader(io.StringIO(read_text_file(marking), newline=""))
    cols = rows.fieldnames or []
    for c in ("sample_id", "path", "stage", "text"):
        if c not in cols:
            raise ConversionError(f"{marking}: missing column {c!r} (columns: {cols})")
    strict = bool(options.get("strict", True))
    extra_cols = [c for c in cols if c not in ("sample_id", "path", "stage", "text") and c]
    for row in rows:
        sid = (row.get("sample_id") or "").strip()
        stage = (row.get("stage") or "").strip()
        if stage not in STAGES:
            skip(sid or "?", f"stage {stage!r} is not one of {', '.join(STAGES)}")
            continue
        rel = (row.get("path") or "").strip().replace("\\", "/")
        img = _locate(folder, rel)
        if img is None:
            missing(strict, skip, sid, f"missing image {rel}")
            continue
        extra = {c: row.get(c, "") for c in extra_cols}
        yield Item(sid, stage, row.get("text") or "", img, extra)


def _locate(folder: Path, rel: str) -> Path | None:
    if not rel or rel.startswith("/") or ".." in Path(rel).parts:
        return None
    for cand in (folder / rel, folder.parent / rel):
        if cand.is_file() and cand.resolve().is_relative_to(folder.parent.resolve()):
            return cand
    parts = Path(rel).parts
    if len(parts) > 1 and (folder / Path(*parts[1:])).is_file():
        return folder / Path(*parts[1:])
    return None
