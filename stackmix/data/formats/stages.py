"""Splitting imported lines into train / valid / test (``split=``, see :mod:`stackmix.data.formats`):
whole pages, documents, groups or writers to one stage, key lists, or one stage for all."""
from __future__ import annotations

import csv
import io
import logging
import os
import random
import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from stackmix.data.marking import STAGES
from stackmix.data.sources.common import ConversionError, SkipFn, read_lines, read_text_file

if TYPE_CHECKING:
    from stackmix.data.formats import Line

__all__ = ["SPLITS", "assign_stages", "group_keys"]

log = logging.getLogger(__name__)

SPLITS = ("page", "document", "group", "writer", "list", "none")


def _read_writers(path: str | os.PathLike) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise ConversionError(f"writers file {p} does not exist")
    rows = list(csv.reader(io.StringIO(read_text_file(p), newline="")))
    out = {}
    for i, r in enumerate(rows):
        if len(r) < 2 or (i == 0 and r[1].strip().lower() == "writer"):
            continue
        out[r[0].strip()] = r[1].strip()
    return out


def assign_stages(
    lines: list[Line],
    *,
    split: str = "page",
    ratios: dict | list | tuple | None = None,
    seed: int = 42,
    lists: dict | None = None,
    stage: str = "train",
    writers: str | os.PathLike | None = None,
    group_pattern: str | None = None,
    skip: SkipFn,
) -> list[tuple[Line, str]]:
    """Give every line a stage according to ``split`` (see the module docstring)."""
    if split not in SPLITS:
        raise ConversionError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    if split == "none":
        if stage not in STAGES:
            raise ConversionError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        return [(ln, stage) for ln in lines]
    if split == "list":
        lookup: dict[str, str] = {}
        for st, path in (lists or {}).items():
            if not path:
                continue
            if st not in STAGES:
                raise ConversionError(f"lists: unknown stage {st!r}")
            for key in read_lines(Path(path), what=f"{st} split list"):
                lookup.setdefault(key.split()[0] if key.split() else key, st)
        if not lookup:
            raise ConversionError("split=list needs lists: {train: file, valid: file, test: file}")
        out = []
        for ln in lines:
            st = lookup.get(ln.sample_id) or lookup.get(ln.page) or lookup.get(ln.document)
            if st is None:
                skip(ln.sample_id, "not in any split list")
                continue
            out.append((ln, st))
        return out

    # group splits
    r = _ratios(ratios)
    if split == "writer":
        mapping = _read_writers(writers) if writers else {}
        keyed = []
        for ln in lines:
            w = ln.extra.get("writer") or mapping.get(ln.page) or mapping.get(ln.document)
            if not w:
                skip(ln.sample_id, f"no writer known for page {ln.page!r} / document {ln.document!r}"
                                   " (writers file)")
                continue
            ln.extra["writer"] = w
            keyed.append((ln, w))
    elif split == "group":
        keyed = []
        for ln, key in zip(lines, group_keys(lines, group_pattern)):
            if key is None:
                skip(ln.sample_id, f"page {ln.page!r} does not match group_pattern "
                                   f"{group_pattern!r}")
                continue
            ln.extra["group"] = key
            keyed.append((ln, key))
    else:
        keyed = [(ln, ln.page if split == "page" else ln.document) for ln in lines]
    sizes: "OrderedDict[str, int]" = OrderedDict()
    for _, k in keyed:
        sizes[k] = sizes.get(k, 0) + 1
    keys = sorted(sizes)
    random.Random(seed).shuffle(keys)
    total = sum(sizes.values())
    target = {st: r[st] * total for st in STAGES}
    have = {st: 0 for st in STAGES}
    stage_of: dict[str, str] = {}
    for k in keys:
        st = max(STAGES, key=lambda s: (target[s] - have[s], -STAGES.index(s)))
        if target[st] <= 0:
            st = "train"
        stage_of[k] = st
        have[st] += sizes[k]
    empty = [st for st in STAGES if r[st] > 0 and have[st] == 0]
    if empty:
        log.warning("split by %s: only %d group(s); stage(s) %s got no line", split, len(keys),
                    ", ".join(empty))
    return [(ln, stage_of[k]) for ln, k in keyed]


def group_keys(lines: list[Line], pattern: str | None) -> list[str | None]:
    """The document of each line for ``split=group``: ``pattern`` (a regular expression) searched
    in the page name (the XML or image file's stem); the key is its first group, or the whole match
    when it has none; ``None`` when it does not match."""
    if not pattern:
        raise ConversionError(
            "split=group needs task.group_pattern: a regular expression over page names whose "
            "first group names the document, e.g. "
            r"""'task.group_pattern="^(.+)-\d+$"' (quotes as shown) for letter12-1.xml, """
            "letter12-2.xml")
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ConversionError(f"task.group_pattern {pattern!r} is not a valid regular "
                              f"expression: {e}") from None
    out: list[str | None] = []
    for ln in lines:
        m = rx.search(ln.page)
        out.append(None if m is None else (m.group(1) if rx.groups else m.group(0)))
    return out


def _ratios(ratios) -> dict[str, float]:
    if ratios is None:
        ratios = {"train": 0.8, "valid": 0.1, "test": 0.1}
    if isinstance(ratios, (list, tuple)):
        if len(ratios) != 3:
            raise ConversionError(f"ratios needs 3 numbers (train, valid, test), got {ratios!r}")
        ratios = dict(zip(STAGES, ratios))
    r = {st: float(ratios.get(st, 0) or 0) for st in STAGES}
    if any(v < 0 for v in r.values()) or sum(r.values()) <= 0:
        raise ConversionError(f"ratios must be non-negative and not all zero, got {r}")
    s = sum(r.values())
    return {k: v / s for k, v in r.items()}
