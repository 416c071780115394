"""Reading a publisher's raw download: finding its files whatever folder they were unpacked into,
reading its text lists, and the errors that say what is missing and where."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from stackmix.data.sources.report import SkipFn

__all__ = ["ConversionError", "MissingLineFiles", "find_one", "missing", "read_lines",
           "read_text_file", "stage_lookup"]


class ConversionError(ValueError):
    """The raw data does not have the expected layout or content; the message says what and where."""


class MissingLineFiles(ConversionError):
    """Per-line files (images, transcriptions) are missing from an otherwise complete download:
    the message names them; download instructions would not help."""


def find_one(raw: Path, names: Iterable[str], *, what: str, kind: str = "file",
             required: bool = True) -> Path | None:
    """First path under ``raw`` (itself, then depth-first, sorted) whose relative path ends with one
    of ``names`` (``"ascii/lines.txt"`` or ``"lines.txt"``); raises a clear error when absent."""
    names = [n.strip("/") for n in names]
    want_dir = kind == "dir"
    candidates: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(raw):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        entries = dirnames if want_dir else sorted(filenames)
        for e in entries:
            p = Path(dirpath) / e
            rel = p.relative_to(raw).as_posix()
            for n in names:
                if rel == n or rel.endswith("/" + n):
                    candidates.append(p)
                    break
        if candidates:
            break
    if candidates:
        return min(candidates, key=lambda p: (len(p.relative_to(raw).parts), str(p)))
    if want_dir:
        for n in names:
            if (raw / n).is_dir():
                return raw / n
    if required:
        raise ConversionError(
            f"missing {what}: no {' or '.join(names)} under {raw}. "
            "See the dataset's docstring / README table for the expected layout."
        )
    return None


def read_lines(path: Path, *, what: str) -> list[str]:
    """Non-empty stripped lines of a UTF-8 text file (BOM tolerated)."""
    if not path.is_file():
        raise ConversionError(f"missing {what}: {path} does not exist")
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def read_text_file(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def stage_lookup(lists: dict[str, Iterable[str]]) -> dict[str, str]:
    """``{id: stage}`` from ``{stage: ids}``; an id in two lists is an error."""
    out: dict[str, str] = {}
    for stage, ids in lists.items():
        for i in ids:
            if i in out and out[i] != stage:
                raise ConversionError(f"id {i!r} is listed in both {out[i]} and {stage} split files")
            out[i] = stage
    return out


def missing(strict: bool, skip: SkipFn, item: str, reason: str) -> None:
    """Report a missing per-line file: an error when ``strict``, a recorded skip otherwise."""
    if strict:
        raise MissingLineFiles(f"{item}: {reason} (pass task.options.strict=false to skip such "
                               "lines instead)")
    skip(item, reason)
