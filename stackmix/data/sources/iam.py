"""IAM Handwriting Database (lines) → prepared dataset.

Published by: FKI, University of Bern / HEIA-FR (Marti & Bunke, IJDAR 2002),
https://fki.tic.heia-fr.ch/databases/iam-handwriting-database — free for non-commercial research,
**registration required** (so no automatic download).

What to download (from the page above, after logging in):
  * ``ascii.tgz``  → ``lines.txt`` (line transcriptions), ``forms.txt`` (writer of each form), ...
  * ``lines.tgz``  → ``<a01>/<a01-000u>/<a01-000u-00>.png`` (binarized-background grayscale lines)
  * ``largeWriterIndependentTextLineRecognitionTask.zip`` → ``trainset.txt``,
    ``validationset1.txt``, ``validationset2.txt``, ``testset.txt`` (line ids, one per line)

Expected layout under ``raw`` (archives may be left packed: ``<stem>/`` folders are made):
    raw/ascii/lines.txt            (also accepted: raw/lines.txt, or anywhere below raw)
    raw/ascii/forms.txt            (optional: adds a ``writer`` column)
    raw/lines/a01/a01-000u/a01-000u-00.png ...
    raw/.../trainset.txt validationset1.txt validationset2.txt testset.txt

``lines.txt`` rows: ``a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from``
(id, segmentation ok/err, gray level, components, x y w h, words joined by ``|``).

Split (``split: official``): the IAM "large writer-independent text line recognition task":
train = trainset (6,161 lines), valid = validationset1 + validationset2 (900 + 940 = 1,840),
test = testset (1,861). 3,491 lines of lines.txt are in no list: ``unlisted: train`` puts them
in train, which gives the split the original StackMix-OCR prepared (9,652 / 1,840 / 1,861, called
"IAM-D" in github.com/shonenkov/IAM-Splitting); ``unlisted: skip`` gives the plain task split.
``split: lists`` takes other list files (see :mod:`.iam_tbluche`).

Normalization: ``|`` → space (as the original project; punctuation therefore stays separated by
spaces, e.g. ``he said , they``); the XML entities ``&quot;`` / ``&amp;`` / ``&lt;`` / ``&gt;``
/ ``&apos;`` are decoded if present; whitespace collapsed; NFC. Lines marked ``err`` are kept
(``skip_err: true`` drops them).

Alphabet (original project, 79 chars): `` !"#&'()*+,-./0123456789:;?A-Za-z``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_lines, stage_lookup,
)

OFFICIAL_LISTS = {
    "train": ("trainset.txt",),
    "valid": ("validationset1.txt", "validationset2.txt"),
    "test": ("testset.txt",),
}

_ENTITIES = {"&quot;": '"', "&amp;": "&", "&lt;": "<", "&gt;": ">", "&apos;": "'"}
_ENTITY_RE = re.compile("|".join(re.escape(k) for k in _ENTITIES))


def decode_text(words: str, unescape: bool = True) -> str:
    text = words.replace("|", " ")
    if unescape:
        text = _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(0)], text)
    return " ".join(text.split())


def parse_lines_txt(path: Path) -> list[tuple[str, str, str]]:
    """``[(line id, ok|err, raw transcription)]`` in file order; comment lines skipped."""
    out = []
    for n, line in enumerate(read_lines(path, what="IAM transcription file lines.txt"), 1):
        if line.startswith("#"):
            continue
        parts = line.split(" ", 8)
        if len(parts) < 9:
            parts = line.split(None, 8)
        if len(parts) < 9:
            raise ConversionError(f"{path}: line {n} is not an IAM lines.txt row: {line[:80]!r}")
        out.append((parts[0], parts[1], parts[8].strip()))
    return out


def read_writers(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    writers = {}
    for line in read_lines(path, what="IAM forms.txt"):
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2:
            writers[parts[0]] = parts[1]
    return writers


def resolve_list(raw: Path, name: str) -> Path:
    p = Path(name).expanduser()
    if p.is_absolute():
        if not p.is_file():
            raise ConversionError(f"missing split list {p}")
        return p
    return find_one(raw, [name], what=f"split list {name}")


def split_lists(raw: Path, options: dict) -> dict[str, list[str]]:
    mode = options.get("split", "official")
    if mode == "official":
        spec = OFFICIAL_LISTS
    elif mode == "lists":
        spec = options.get("split_files") or {}
        if not spec:
            raise ConversionError("split: lists needs split_files: {train: ..., valid: ..., test: ...}")
        spec = {k: ((v,) if isinstance(v, str) else tuple(v)) for k, v in spec.items() if v}
    else:
        raise ConversionError(f"unknown IAM split {mode!r}: official | lists")
    lists: dict[str, list[str]] = {}
    for stage, names in spec.items():
        ids: list[str] = []
        for name in names:
            ids += [ln.split()[0] for ln in read_lines(resolve_list(raw, name),
                                                       what=f"split list {name}")]
        lists[stage] = ids
    return lists


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    lines_txt = find_one(raw, ["ascii/lines.txt", "lines.txt"],
                         what="IAM transcription file ascii/lines.txt (from ascii.tgz)")
    forms_txt = find_one(raw, ["ascii/forms.txt", "forms.txt"], what="forms.txt", required=False)
    image_root = _find_image_root(raw)
    stage_of = stage_lookup(split_lists(raw, options))
    unlisted = options.get("unlisted", "train")
    if unlisted not in ("train", "skip"):
        raise ConversionError(f"unlisted must be train or skip, got {unlisted!r}")
    skip_err = bool(options.get("skip_err", False))
    strict = bool(options.get("strict", True))
    unescape = bool(options.get("unescape_entities", True))
    writers = read_writers(forms_txt)

    for line_id, status, words in parse_lines_txt(lines_txt):
        stage = stage_of.get(line_id)
        if stage is None:
            if unlisted == "skip":
                skip(line_id, "not in any split list")
                continue
            stage = "train"
        if skip_err and status == "err":
            skip(line_id, "segmentation marked err in lines.txt")
            continue
        parts = line_id.split("-")
        if len(parts) < 3:
            skip(line_id, "malformed IAM line id")
            continue
        form = f"{parts[0]}-{parts[1]}"
        img = image_root / parts[0] / form / f"{line_id}.png"
        if not img.is_file():
            missing(strict, skip, line_id, f"missing line image {img}")
            continue
        extra = {"writer": writers.get(form, "")} if writers else {}
        yield Item(line_id, stage, decode_text(words, unescape), img, extra)


def _find_image_root(raw: Path) -> Path:
    """The folder holding ``a01/a01-000u/a01-000u-00.png`` (``lines/`` from lines.tgz)."""
    for cand in [raw / "lines", *sorted(raw.glob("*/lines")), *sorted(raw.glob("*/*/lines")), raw]:
        if cand.is_dir() and any(p.is_dir() and re.fullmatch(r"[a-z]\d\d", p.name)
                                 for p in cand.iterdir()):
            return cand
    raise ConversionError(
        f"missing IAM line images: no lines/<a01>/<a01-000u>/<id>.png folder under {raw} "
        "(extract lines.tgz into raw/lines/)"
    )
