"""Bentham (ICFHR 2014 HTRtS competition, tranScriptorium) → prepared dataset.

Published by: the tranScriptorium project / PRHLT (Sánchez et al., "ICFHR2014 Competition on
Handwritten Text Recognition on tranScriptorium Datasets (HTRtS)"), on Zenodo (record 44519,
doi:10.5281/zenodo.44519). What to download: ``BenthamDatasetR0-GT.tbz`` (ground truth with the
line images). The exact file URL could not be checked from here, so no automatic download is
configured: fetch it from the record page and put it (packed or extracted) in ``raw``.

Expected layout (anywhere below ``raw``):
    BenthamDatasetR0-GT/Images/Lines/<line id>.png
    BenthamDatasetR0-GT/Transcriptions/<line id>.txt
    BenthamDatasetR0-GT/Partitions/TrainLines.lst ValidationLines.lst TestLines.lst

Split: the official partitions (9,198 train / 1,415 valid / 860 test lines in the original
project's conversion).

Normalization of a transcription file: lines joined with spaces, XML entities decoded
(``&amp;`` → ``&`` ...), ``<gap/>`` markers removed, whitespace collapsed, NFC. The files use
tokenized punctuation ("6 . The evidence of the engagement , consigned"); like the original
project (``join_punctuation: true``) the space before ``, . ! : ; ?`` after a word, after an
opening ``" ' ( [ <`` and before a closing ``) ] >`` is removed. The original project also folded
``é ê è`` → ``e``, ``à â`` → ``a`` and dropped ``⊥`` in the **train** texts only
(``train_replace``); valid/test keep them, as there. An empty result (a line that was only a gap)
is skipped and reported.

Alphabet (original project, 87 chars):
`` !"#&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXY[]_abcdefghijklmnopqrstuvwxyz|£§``.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_lines, read_text_file,
)

PARTITIONS = {"train": "TrainLines.lst", "valid": "ValidationLines.lst", "test": "TestLines.lst"}


def join_punctuation(text: str) -> str:
    """Remove the tokenizing spaces around punctuation ("word , word" → "word, word")."""
    text = re.sub(r"(?<=\w)\s+(?=[,.!:;?])", "", text)
    text = re.sub(r"(?<=[\"'(\[<])\s+(?=\w)", "", text)
    text = re.sub(r"(?<=\w)\s+(?=[)\]>])", "", text)
    return text


def decode_transcription(raw: str, *, join_punct: bool = True) -> str:
    text = " ".join(raw.splitlines())
    text = html.unescape(text).replace("<gap/>", " ")
    text = " ".join(text.split())
    if join_punct:
        text = join_punctuation(text)
    return text


def apply_replace(text: str, pairs: dict | None) -> str:
    for old, new in (pairs or {}).items():
        text = text.replace(str(old), "" if new is None else str(new))
    return " ".join(text.split())


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    train_list = find_one(raw, ["Partitions/TrainLines.lst"],
                          what="Bentham partition file Partitions/TrainLines.lst")
    root = train_list.parent.parent
    trans_dir = root / "Transcriptions"
    img_dir = root / "Images" / "Lines"
    if not trans_dir.is_dir():
        raise ConversionError(f"missing Bentham transcription folder {trans_dir}")
    if not img_dir.is_dir():
        raise ConversionError(f"missing Bentham line image folder {img_dir}")
    strict = bool(options.get("strict", True))
    join_punct = bool(options.get("join_punctuation", True))
    train_replace = options.get("train_replace") or {}
    seen: set[str] = set()
    for stage, name in PARTITIONS.items():
        for line_id in read_lines(root / "Partitions" / name, what=f"Bentham partition file {name}"):
            line_id = line_id.split()[0]
            if line_id in seen:
                skip(line_id, f"listed twice in the partitions (again in {name})")
                continue
            seen.add(line_id)
            txt = trans_dir / f"{line_id}.txt"
            if not txt.is_file():
                missing(strict, skip, line_id, f"missing transcription file {txt}")
                continue
            img = img_dir / f"{line_id}.png"
            if not img.is_file():
                alt = sorted(img_dir.glob(f"{line_id}.*"))
                if not alt:
                    missing(strict, skip, line_id, f"missing line image {img}")
                    continue
                img = alt[0]
            text = decode_transcription(read_text_file(txt), join_punct=join_punct)
            if stage == "train":
                text = apply_replace(text, train_replace)
            yield Item(line_id, stage, text, img)
