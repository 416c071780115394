"""IAM lines with Théodore Bluche's split ("IAM-B": 6,482 train / 976 valid / 2,915 test lines).

Same raw data and layout as :mod:`.iam` (``ascii/lines.txt``, ``lines/...``; FKI registration
required, see there). The split is the one T. Bluche published on tbluche.com/resources.html
(the RWTH Aachen split used in his thesis and many later papers), as line-id lists; the copy in
github.com/shonenkov/IAM-Splitting (folder ``IAM-B``: ``train.txt``, ``valid.txt``,
``test.txt``, one line id per row) is public, so ``task.download=true`` fetches those three small
files from that repository at a pinned commit (SHA-256 recorded on first download). Lines of
lines.txt in none of the lists are skipped (``unlisted: skip``) and listed in the report.

Normalization and alphabet: as :mod:`.iam` (the original project used the same 79 characters).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from stackmix.data.sources import iam
from stackmix.data.sources.common import Item, SkipFn

DEFAULT_LISTS = {"train": "IAM-B/train.txt", "valid": "IAM-B/valid.txt", "test": "IAM-B/test.txt"}


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    opts = {"split": "lists", "split_files": DEFAULT_LISTS, "unlisted": "skip", **options}
    yield from iam.iter_items(raw, opts, skip)
