"""Document 'Patzig' of the ICFHR 2018 READ competition's document-specific data → prepared dataset.

Source, download, layout, split, image masking and normalization: see :mod:`.read2018`
(collection ``35013``, folder ``specific_data/35013_train/Patzig/``, lists
``specific_data_train_list/35013_train_{1,4,16}.lst``).

Split sizes in the original StackMix-OCR conversion (train / valid / test lines): 485 / 38 / 118.

Alphabet (original project, 68 chars): `` ',-.0123456789:;ABCDEFGHJKLMNOPQRSTUVWZabcdefghijklmnopqrstuvwxyzß–``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import Item, SkipFn
from stackmix.data.sources.read2018 import iter_document

COLLECTION = "35013"
DOCUMENT = "Patzig"


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    yield from iter_document(raw, options, skip,
                             collection=str(options.get("collection", COLLECTION)),
                             document=str(options.get("document", DOCUMENT)))
