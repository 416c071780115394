"""Pages in, pages out: recognize every ``TextLine`` of an ALTO or PAGE-XML file and write the text
back into a copy of the XML.

The lines are cut from the page image with the file's own geometry, exactly as the importer
(:mod:`stackmix.data.formats`) cuts training lines: the page image is found the same way (beside
the XML, ``images=``, sibling ``jpg/`` / ``images/`` folders), coordinates are scaled when the XML
declares another page size than the image's (a page whose lines do not fit the image is refused),
and with ``geometry="polygon"`` (the default) pixels outside the line's polygon are painted white;
``"box"`` crops the line's box.

Written back (:mod:`stackmix.inference.page_write`; everything else — other elements, attributes, comments, whitespace — is kept):

* ALTO: each ``TextLine``'s ``String`` / ``SP`` / ``HYP`` children are replaced by the recognized
  text. When the line already has as many ``String`` elements as the prediction has words, each
  keeps its geometry and gets the word's ``CONTENT`` and ``WC`` (word confidence: mean of its
  characters'); otherwise one ``String`` with the whole line (the line's box, ``WC`` = line
  confidence) replaces them.
* PAGE: each ``TextLine``'s ``TextEquiv`` becomes one ``TextEquiv conf="…"`` with the text in
  ``Unicode`` (placed where the schema wants it: after ``Coords``/``Baseline``/``Word``). Region and
  ``Word`` level texts are left as they were.

Line segmentation of bare page images is not done here: segment them first (e.g. ``kraken -a -i
page.jpg page.xml segment -bl``, or eScriptorium) and pass the resulting XML.
"""
from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stackmix.data.formats.page import local
from stackmix.inference.page_write import write_alto_line, write_page_line, write_tree

log = logging.getLogger(__name__)


class PageError(ValueError):
    """The XML cannot be processed (not ALTO/PAGE, image missing, geometry does not fit)."""


@dataclass
class PageLine:
    element: Any  # the TextLine element
    crop: np.ndarray
    line_id: str


@dataclass
class PageResult:
    xml: Path
    out: Path
    format: str
    lines: list[dict] = field(default_factory=list)  # line_id, text, confidence per line
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (line id, reason)


def parse_keeping_everything(path: Path) -> ET.ElementTree:
    """Parse ``path`` with its comments and processing instructions, and register its namespace
    prefixes so that writing it back keeps them (``ns0:`` prefixes would otherwise appear)."""
    try:
        for _, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
            ET.register_namespace(prefix or "", uri)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
        return ET.parse(path, parser=parser)
    except ET.ParseError as e:
        raise PageError(f"{path}: not well-formed XML ({e})") from None


def page_format(path: Path) -> str | None:
    """``"alto"``, ``"pagexml"`` or ``None`` from the root element of an XML file."""
    try:
        for _, el in ET.iterparse(path, events=("start",)):
            return {"alto": "alto", "PcGts": "pagexml"}.get(local(el.tag))
    except ET.ParseError:
        return None
    return None


def _text_lines(root, fmt: str) -> list[tuple[Any, tuple | None, np.ndarray | None, str]]:
    """(TextLine, box, polygon, id) in the importer's order."""
    out = []
    if fmt == "alto":
        from stackmix.data.formats.alto import line_geometry

        for tl in (el for el in root.iter() if local(el.tag) == "TextLine"):
            box, poly = line_geometry(tl)
            out.append((tl, box, poly, tl.get("ID") or ""))
    else:
        from stackmix.data.formats.page import bbox, children
        from stackmix.data.formats.pagexml import coords, ordered_regions

        page = next((el for el in root.iter() if local(el.tag) == "Page"), None)
        if page is None:
            return []
        for region in ordered_regions(page):
            for tl in children(region, "TextLine"):
                poly = coords(tl)
                out.append((tl, bbox(poly) if poly is not None else None, poly,
                            tl.get("id") or ""))
    return out


def _page_image_and_size(root, fmt: str, xml: Path, images: Path | None):
    from stackmix.data.formats.page import find_page_image, missing_image_reason

    if fmt == "alto":
        name = next(((el.text or "").strip() or None for el in root.iter()
                     if local(el.tag) == "fileName"), None)
        unit = next(((el.text or "pixel").strip() for el in root.iter()
                     if local(el.tag) == "MeasurementUnit"), "pixel")
        page = next((el for el in root.iter() if local(el.tag) == "Page"), None)
        size = [page.get(a) if page is not None else None for a in ("WIDTH", "HEIGHT")]
    else:
        page = next((el for el in root.iter() if local(el.tag) == "Page"), None)
        name = page.get("imageFilename") if page is not None else None
        unit = "pixel"
        size = [page.get(a) if page is not None else None for a in ("imageWidth", "imageHeight")]
    img, looked = find_page_image(xml, name, images)
    if img is None:
        raise PageError(f"{xml}: {missing_image_reason(xml, name, looked)}")
    try:
        declared = tuple(float(v) if v else None for v in size)
    except ValueError:
        declared = (None, None)
    return img, declared, unit


def read_page_lines(xml: str | os.PathLike, *, images: str | os.PathLike | None = None,
                    geometry: str = "polygon", padding: int = 0):
    """Parse ``xml`` and cut its lines: returns (tree, format, [PageLine], [(id, reason)])."""
    from stackmix.data.formats.page import PageDoesNotFit, crop_region, extents_of, fit_page
    from stackmix.data.image import read_gray

    if geometry not in ("box", "polygon"):
        raise PageError(f"page geometry must be box or polygon, got {geometry!r}")
    xml = Path(xml)
    fmt = page_format(xml)
    if fmt is None:
        raise PageError(f"{xml} is neither ALTO (<alto>) nor PAGE-XML (<PcGts>)")
    tree = parse_keeping_everything(xml)
    root = tree.getroot()
    img_path, declared, unit = _page_image_and_size(root, fmt, xml,
                                                    Path(images) if images else None)
    found = _text_lines(root, fmt)
    skipped = [(lid or f"line {k}", "no coordinates") for k, (_, box, _, lid) in enumerate(found)
               if box is None]
    found = [f for f in found if f[1] is not None]
    try:
        sx, sy = fit_page(xml, img_path, declared, extents_of(f[1] for f in found),
                          always_scale=fmt == "alto" and unit.lower() != "pixel")
    except PageDoesNotFit as e:
        raise PageError(f"{xml}: {e}") from None
    page = read_gray(img_path)
    lines = []
    for tl, box, poly, lid in found:
        b = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
        p = poly * [sx, sy] if (poly is not None and geometry == "polygon") else None
        try:
            lines.append(PageLine(tl, crop_region(page, b, p, padding), lid))
        except ValueError as e:
            skipped.append((lid, str(e)))
    return tree, fmt, lines, skipped


def looks_like_page(height: int, width: int) -> bool:
    """An image too tall and not wide enough to be one text line (a scanned page, a paragraph)."""
    return height >= PAGE_MIN_HEIGHT and width < LINE_MIN_ASPECT * height


PAGE_MIN_HEIGHT = 300  # px; line crops are rarely above ~250 px even at 600 dpi
LINE_MIN_ASPECT = 2.0  # width / height; lines of more than a short word are wider


def page_inputs(items: list[str]) -> list[Path] | None:
    """The ALTO/PAGE files among ``items`` (files, folders, globs) when they are pages, else None.

    A folder counts as pages when it holds ``.xml`` files that are ALTO or PAGE (its images are
    then the page images, not lines). Mixing pages and line images is an error.
    """
    import glob

    xmls: list[Path] = []
    other = False
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.xml") if page_format(f))
            if found:
                xmls += found
            else:
                other = True
        elif p.suffix.lower() == ".xml":
            files = [Path(m) for m in sorted(glob.glob(str(p)))] if any(
                c in item for c in "*?[") else [p]
            for f in files:
                if not f.is_file():
                    raise PageError(f"input not found: {f}")
                if page_format(f) is None:
                    raise PageError(f"{f} is neither ALTO (<alto>) nor PAGE-XML (<PcGts>)")
                xmls.append(f)
        else:
            other = True
    if xmls and other:
        raise PageError("input mixes ALTO/PAGE files and line images: give one kind per run")
    return xmls or None


def recognize_page(recognizer, decoder, xml: str | os.PathLike, out: str | os.PathLike, *,
                   images: str | os.PathLike | None = None, geometry: str = "polygon",
                   padding: int = 0, batch_size: int = 16) -> PageResult:
    """Recognize every line of one ALTO/PAGE file and write the filled-in copy to ``out``."""
    tree, fmt, lines, skipped = read_page_lines(xml, images=images, geometry=geometry,
                                                padding=padding)
    result = PageResult(Path(xml), Path(out), fmt, skipped=skipped)
    for start in range(0, len(lines), batch_size):
        chunk = lines[start:start + batch_size]
        batch = np.stack([recognizer.prepare(pl.crop) for pl in chunk])
        for pl, hyp in zip(chunk, decoder(recognizer.log_probs(batch))):
            text = hyp.text
            conf = float(hyp.confidence) if text else 0.0  # an empty line is no sure reading
            if fmt == "alto":
                write_alto_line(pl.element, text, conf, list(hyp.char_probs))
            else:
                write_page_line(pl.element, text, conf)
            result.lines.append({"line_id": pl.line_id, "text": text,
                                 "confidence": round(conf, 6)})
    write_tree(tree, Path(out), Path(xml))
    return result


__all__ = ["PageError", "PageResult", "looks_like_page", "page_format", "page_inputs",
           "read_page_lines", "recognize_page"]
