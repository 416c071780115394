"""CREMMA-AN-TestamentsDePoilus (French WWI soldiers' wills, ALTO pages + images) → line dataset.

Published by: HTR-United, github.com/HTR-United/CREMMA-AN-TestamentsDePoilus, release v2.0.0,
DOI 10.5281/zenodo.10177106, by Alix Chagué, Thibault Clérice, Anaïs Mazoue and Elsa Van Kote
from the transcriptions of the Archives nationales' "Testaments de Poilus" project. Licence
CC BY 4.0: attribution required (the prepared folder gets a ``README.md`` saying so).

What to download (``task.download=true`` does it): the release archive
``CREMMA-AN-TestamentsDePoilus-2.0.0.zip`` (GitHub's tag archive, ~250 MB). GitHub publishes no
checksum, so its SHA-256 is recorded on the first download and later downloads must match it;
independently of the archive's bytes, the converter checks the digest of the 226 ALTO files
(``xml_digest``: SHA-256 over ``name\\0sha256(file)\\n`` of every ``*.xml`` under ``data/``, in
name order), so transcriptions that changed are noticed. Expected layout (anywhere below ``raw``):
    data/batch-<n>/TestamentsDePoilus_will_<will>-<page>.xml   ALTO v4 (eScriptorium export)
    data/batch-<n>/TestamentsDePoilus_will_<will>-<page>.jpg   the page image

Lines: every ``TextLine`` of every page through the ALTO importer
(:mod:`stackmix.data.formats.alto`): the line's box (``HPOS VPOS WIDTH HEIGHT``) plus
``padding`` pixels, grayscale, scaled down to at most ``max_height`` pixels high (64). Sample ids
``<will>-<page>-<NNN>`` (``NNN``: the line's index in the page), writer = the will.

Split: writer-disjoint (one will = one writer), the split of the copy this project's results were
measured on: ``valid_writers`` and ``test_writers`` below, every other will in train.
That copy left out the 16 pages whose JPEG is 4 MiB or more (``exclude_pages``), giving
3,078 lines of 137 writers: 2,508 train / 365 valid / 205 test. ``exclude_pages: []`` adds them
(their wills keep their stage; wills only on those pages go to train).
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Iterator

from stackmix.data.sources.common import ConversionError, Item, SkipFn

log = logging.getLogger(__name__)

PAGE_RE = re.compile(r"TestamentsDePoilus_will_(?P<will>[A-Za-z0-9]+_\d+)-(?P<page>\d+)$")

VALID_WRITERS = (
    "AD78_0022", "AD78_0084", "AN_0034", "AN_0099", "AN_0181", "AN_0191", "AN_0194", "AN_0200",
    "AN_0228", "AN_0266", "AN_0292", "AN_0314", "AN_0340", "AN_0344",
)
TEST_WRITERS = (
    "AD78_0003", "AD78_0038", "AD78_0047", "AD78_0088", "AD95_0051", "AN_0069", "AN_0089",
    "AN_0199", "AN_0242", "AN_0268", "AN_0284", "AN_0291", "AN_0332",
)
EXCLUDED_PAGES = (
    "AD95_0001-0", "AD95_0004-0", "AD95_0011-0", "AD95_0015-0", "AD95_0015-1", "AD95_0018-0",
    "AD95_0019-0", "AD95_0023-0", "AD95_0025-0", "AD95_0030-0", "AD95_0030-1", "AD95_0036-0",
    "AD95_0039-0", "AD95_0039-1", "AD95_0042-0", "AD95_0051-0",
)
XML_DIGEST = "2c5184fda08716ed5fb3efb072ac7a07022f3b15cc281553f0b100ee37815579"
FIXTURE_PAGES = ("AD78_0038-0", "AD78_0038-1", "AD78_0047-0")

README = """\
# poilus: real French handwriting lines (WWI soldiers' wills, 1898-1918)

Source: CREMMA-AN-TestamentsDePoilus (HTR-United), release v2.0.0, DOI 10.5281/zenodo.10177106,
by Alix Chagué, Thibault Clérice, Anaïs Mazoue, Elsa Van Kote, from transcriptions of the
Archives nationales' "Testaments de Poilus" project. Licence: CC BY 4.0 (attribution required:
keep this file with the data and cite the DOI when you publish results on it).

Made by `make prepare-poilus` (stackmix/data/sources/poilus.py) from the release archive.

What is here:
- `images/*`: one crop per ALTO `TextLine` (its box plus {padding} px), grayscale, scaled down to
  at most {max_height} px high.
- `marking.csv`: `sample_id,path,stage,text,writer,...` (UTF-8, RFC 4180 quoting). One will = one
  writer; the split is writer-disjoint ({counts}).
- `alto_pages/`: original page images with their ALTO v4 XML from test-split writers, a
  real-format fixture for ALTO import.
- `prepare_report.json`: the conversion report.
"""


def xml_digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(files, key=lambda p: p.name):
        h.update(f"{p.name}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()


def page_files(raw: Path) -> list[Path]:
    files = sorted((p for p in raw.rglob("TestamentsDePoilus_will_*.xml")
                    if p.is_file() and "data" in p.relative_to(raw).parts[:-1]),
                   key=lambda p: p.name)
    if not files:
        raise ConversionError(
            f"no TestamentsDePoilus_will_*.xml under a data/ folder in {raw}: expected the "
            "CREMMA-AN-TestamentsDePoilus release (data/batch-<n>/<page>.xml + .jpg); "
            "pass task.download=true to fetch it"
        )
    return files


def iter_items(raw: Path, options: dict, skip: SkipFn) -> Iterator[Item]:
    import cv2

    from stackmix.data.formats.alto import iter_lines

    padding = int(options.get("padding", 12))
    max_height = int(options.get("max_height", 64) or 0)
    excluded = set(options.get("exclude_pages", EXCLUDED_PAGES) or ())
    valid = set(options.get("valid_writers", VALID_WRITERS) or ())
    test = set(options.get("test_writers", TEST_WRITERS) or ())
    if valid & test:
        raise ConversionError(f"writers in both valid and test: {sorted(valid & test)}")
    files = page_files(raw)
    want = options.get("xml_digest", XML_DIGEST)
    if want:
        got = xml_digest(files)
        if got != want:
            raise ConversionError(
                f"the ALTO files under {raw} are not those of release v2.0.0 (digest {got}, "
                f"expected {want}): a different or modified release. Download v2.0.0 again, or "
                "pass task.options.xml_digest=null to convert these files anyway (the split and "
                "counts will then differ from the README's)"
            )
    writers: set[str] = set()
    for xml in files:
        m = PAGE_RE.match(xml.stem)
        if m is None:
            skip(xml.name, "file name is not TestamentsDePoilus_will_<will>-<page>.xml")
            continue
        will, page = m["will"], m["page"]
        if f"{will}-{page}" in excluded:
            skip(xml.name, "page left out by exclude_pages (task.options.exclude_pages=[] keeps it)")
            continue
        stage = "test" if will in test else "valid" if will in valid else "train"
        for ln in iter_lines(xml, geometry="box", padding=padding, skip=skip):
            index = ln.sample_id.rsplit("_", 1)[1]
            try:
                crop = ln.load()
            except (ValueError, OSError) as e:
                skip(ln.sample_id, f"cannot crop the line: {e}")
                continue
            h, w = crop.shape[:2]
            if max_height and h > max_height:
                crop = cv2.resize(crop, (max(1, round(w * max_height / h)), max_height),
                                  interpolation=cv2.INTER_AREA)
            writers.add(will)
            yield Item(f"{will}-{page}-{index}", stage, ln.text, crop,
                       {"writer": will, "page": xml.stem, "line_id": ln.extra.get("line_id", "")})
    lost = sorted((valid | test) - writers)
    if lost:
        raise ConversionError(
            f"no line of the valid/test writer(s) {', '.join(lost)} in {raw}: the download is "
            "incomplete (page images missing?); delete it and download again"
        )


def extra_files(raw: Path, options: dict, counts: dict) -> dict[str, bytes]:
    """The attribution README and the ALTO fixture pages, written into the prepared folder."""
    text = README.format(padding=int(options.get("padding", 12)),
                         max_height=int(options.get("max_height", 64) or 0),
                         counts=" / ".join(f"{n:,} {st}" for st, n in counts.items()))
    out = {"README.md": text.encode("utf-8")}
    by_stem = {p.stem: p for p in page_files(raw)}
    for key in FIXTURE_PAGES:
        xml = by_stem.get(f"TestamentsDePoilus_will_{key}")
        if xml is None:
            continue
        for src in (xml, *(xml.with_suffix(e) for e in (".jpg", ".png", ".tif"))):
            if src.is_file():
                out[f"alto_pages/{src.name}"] = src.read_bytes()
    return out
