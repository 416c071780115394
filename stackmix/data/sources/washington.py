"""George Washington database (18th-century English letters, 20 pages) → prepared dataset.

Published by: FKI, University of Bern (Fischer, Keller, Frinken & Bunke, "Lexicon-free
handwritten word spotting using character HMMs", PRL 2012), in the IAM Historical Document
Database: https://fki.tic.heia-fr.ch/databases/washington-database — non-commercial research
only, **registration required**.

What to download: ``washingtondb-v1.0.zip``. Expected layout (anywhere below ``raw``):
    washingtondb-v1.0/ground_truth/transcription.txt     (<line id> <transcription>)
    washingtondb-v1.0/sets/cv1/train.txt valid.txt test.txt   (line ids; cv1..cv4 folds)
    washingtondb-v1.0/data/line_images_normalized/<line id>.png

Transcriptions: characters separated by ``-``, words by ``|``; punctuation and some letters are
``s_`` codes. Decoding (the mapping the original StackMix-OCR used): ``s_pt`` ``.``, ``s_cm``
``,``, ``s_mi`` ``-``, ``s_bl`` ``(``, ``s_br`` ``)``, ``s_etc`` ``etc``, ``s_GW`` ``G.W.``,
``s_qt`` ``'``, ``s_qo`` ``:``, ``s_lb`` ``£``, ``s_s`` ``s`` (long s) and ``s_0``..``s_9`` the
digits. A line with a code outside ``special_codes`` is skipped and reported.

Split: the official cross-validation fold ``cv: cv1`` (325 / 168 / 163 lines), as the original
project; ``cv2``..``cv4`` select the other folds.

Alphabet (original project, 68 chars):
`` '(),-.0123456789:ABCDEFGHIJKLMNOPQRSTVWYabcdefghijklmnopqrstuvwxyz£``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import (
    ConversionError, Item, SkipFn, find_one, missing, read_lines, stage_lookup,
)

DEFAULT_CODES = {
    "s_pt": ".", "s_cm": ",", "s_mi": "-", "s_bl": "(", "s_br": ")", "s_etc": "etc",
    "s_GW": "G.W.", "s_qt": "'", "s_qo": ":", "s_lb": "£", "s_s": "s",
}
_DIGIT = re.compile(r"s_(\d)")


def decode(transcription: str, codes: dict[str, str]) -> str:
    words = []
    for word in transcription.split("|"):
        out = []
        for tok in word.split("-"):
            if not tok:
                continue
            if tok in codes:
                out.append(codes[tok])
            elif _DIGIT.fullmatch(tok):
                out.append(tok[2])
            elif len(tok) == 1:
                out.append(tok)
            else:
                raise ValueError(f"unknown code {tok!r}")
        if out:
            words.append("".join(out))
    return " ".join(words)


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    trans = find_one(raw, ["ground_truth/transcription.txt"],
                     what="Washington transcription file ground_truth/transcription.txt")
    root = trans.parent.parent
    cv = str(options.get("cv", "cv1"))
    set_dir = root / "sets" / cv
    if not set_dir.is_dir():
        raise ConversionError(f"missing Washington split folder {set_dir} (cv: cv1..cv4)")
    stage_of = stage_lookup({st: read_lines(set_dir / f"{st}.txt", what=f"sets/{cv}/{st}.txt")
                             for st in ("train", "valid", "test")})
    img_dir = root / "data" / "line_images_normalized"
    if not img_dir.is_dir():
        raise ConversionError(f"missing Washington line image folder {img_dir}")
    codes = {str(k): str(v) for k, v in (options.get("special_codes") or DEFAULT_CODES).items()}
    strict = bool(options.get("strict", True))
    for row in read_lines(trans, what="Washington transcription.txt"):
        parts = row.split()
        if len(parts) < 2:
            skip(parts[0] if parts else "?", "no transcription on its row")
            continue
        line_id, raw_text = parts[0], parts[1]
        stage = stage_of.get(line_id)
        if stage is None:
            skip(line_id, f"not in sets/{cv}")
            continue
        try:
            text = decode(raw_text, codes)
        except ValueError as e:
            skip(line_id, f"cannot decode the transcription: {e}")
            continue
        img = img_dir / f"{line_id}.png"
        if not img.is_file():
            missing(strict, skip, line_id, f"missing line image {img}")
            continue
        yield Item(line_id, stage, text, img, {"page": line_id.split("-")[0]})
