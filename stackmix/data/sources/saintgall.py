"""Saint Gall database (Codex Sangallensis 562, 9th-century Latin, Carolingian script) → prepared dataset.

Published by: FKI, University of Bern (Fischer, Frinken, Fornés & Bunke, "Transcription
Alignment of Latin Manuscripts using Hidden Markov Models", HIP 2011), in the IAM Historical
Document Database: https://fki.tic.heia-fr.ch/databases/saint-gall-database — non-commercial
research only, **registration required**.

What to download: ``saintgalldb-v1.0.zip``. Expected layout (anywhere below ``raw``):
    saintgalldb-v1.0/ground_truth/transcription.txt
    saintgalldb-v1.0/sets/train.txt valid.txt test.txt          (page ids, e.g. csg562-003)
    saintgalldb-v1.0/data/line_images_normalized/<line id>.png  (binarized, skew/height normalized)

``transcription.txt`` rows (from the database README):
``<line id> <spelling_1>|...|<spelling_n> <label_1>|...|<label_n>`` where a spelling is
``<char_1>-...-<char_m>``; the labels (lower-case edition words) are ignored.

Split: the official page sets (20 / 10 / 30 pages: 468 train / 235 valid / 707 test lines in the
original project's conversion); the page id is the line id without its last ``-NN``.

Normalization: characters joined, words joined with a space; the two special letters of the
database map through ``special_letters``: ``pt`` (punctuation mark, typically a dot between
words) → ``.`` and ``et`` (the ``&`` ligature) → ``&``, exactly as the original StackMix-OCR
notebook does (it replaces ``pt`` by ``.`` and ``et`` by ``&`` before removing the hyphens).
``special_letters: {pt: pt, et: et}`` would spell them as two letters instead.

Alphabet: the original project's 48 characters `` ABCDEFGHILMNOPQRSTUVXZabcdefghiklmnopqrstuvwxyz``
plus ``&`` and ``.`` from the special letters above.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_lines,
)

DEFAULT_SPECIAL = {"pt": ".", "et": "&"}


def decode_spelling(spelling: str, special: dict[str, str]) -> str:
    words = []
    for word in spelling.split("|"):
        chars = [c for c in word.split("-") if c]
        if not chars:
            continue
        out = []
        for c in chars:
            if c in special:
                out.append(special[c])
            elif len(c) == 1:
                out.append(c)
            else:
                raise ValueError(f"unknown multi-letter symbol {c!r}")
        words.append("".join(out))
    return " ".join(words)


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    trans = find_one(raw, ["ground_truth/transcription.txt"],
                     what="Saint Gall transcription file ground_truth/transcription.txt")
    root = trans.parent.parent
    sets = {st: set(read_lines(root / "sets" / f"{st}.txt", what=f"Saint Gall sets/{st}.txt"))
            for st in ("train", "valid", "test")}
    page_stage = {}
    for st, pages in sets.items():
        for p in pages:
            if p in page_stage:
                raise ConversionError(f"page {p} is in both sets/{page_stage[p]}.txt and sets/{st}.txt")
            page_stage[p] = st
    img_dir = root / "data" / "line_images_normalized"
    if not img_dir.is_dir():
        raise ConversionError(f"missing Saint Gall line image folder {img_dir}")
    special = {str(k): str(v) for k, v in (options.get("special_letters") or DEFAULT_SPECIAL).items()}
    strict = bool(options.get("strict", True))
    for row in read_lines(trans, what="Saint Gall transcription.txt"):
        parts = row.split()
        if len(parts) < 2:
            skip(parts[0] if parts else "?", "no transcription on its row")
            continue
        line_id, spelling = parts[0], parts[1]
        page = "-".join(line_id.split("-")[:2])
        stage = page_stage.get(page)
        if stage is None:
            skip(line_id, f"page {page} is in no set file")
            continue
        try:
            text = decode_spelling(spelling, special)
        except ValueError as e:
            skip(line_id, f"cannot decode the spelling: {e}")
            continue
        img = img_dir / f"{line_id}.png"
        if not img.is_file():
            missing(strict, skip, line_id, f"missing line image {img}")
            continue
        yield Item(line_id, stage, text, img, {"page": page})
