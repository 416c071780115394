"""Pages in, pages out: recognize every ``TextLine`` of an ALTO or PAGE-XML file and write the text
back into a copy of the XML.

The lines are cut from the page image with the file's own geometry, exactly as the importer
(:mod:`stackmix.data.formats`) cuts training lines: the page image is found the same way (beside
the XML, ``images=``, sibling ``jpg/`` / ``images/`` folders), coordinates are scaled when the XML
declares another page size than the image's (a page whose lines do not fit the image is refused),
and with ``geometry="polygon"`` (the default) pixels outside the line's polygon are painted white;
``"box"`` crops the line's box.

Written back (everything else — other elements, attributes, comments, whitespace — is kept):

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
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(tag: str) -> str:
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


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
            return {"alto": "alto", "PcGts": "pagexml"}.get(_local(el.tag))
    except ET.ParseError:
        return None
    return None


def _text_lines(root, fmt: str) -> list[tuple[Any, tuple | None, np.ndarray | None, str]]:
    """(TextLine, box, polygon, id) in the importer's order."""
    out = []
    if fmt == "alto":
        from stackmix.data.formats.alto import line_geometry

        for tl in (el for el in root.iter() if _local(el.tag) == "TextLine"):
            box, poly = line_geometry(tl)
            out.append((tl, box, poly, tl.get("ID") or ""))
    else:
        from stackmix.data.formats.page import bbox, children
        from stackmix.data.formats.pagexml import coords, ordered_regions

        page = next((el for el in root.iter() if _local(el.tag) == "Page"), None)
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
                     if _local(el.tag) == "fileName"), None)
        unit = next(((el.text or "pixel").strip() for el in root.iter()
                     if _local(el.tag) == "MeasurementUnit"), "pixel")
        page = next((el for el in root.iter() if _local(el.tag) == "Page"), None)
        size = [page.get(a) if page is not None else None for a in ("WIDTH", "HEIGHT")]
    else:
        page = next((el for el in root.iter() if _local(el.tag) == "Page"), None)
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


# ---------------------------------------------------------------------------------- write back
def _fmt_conf(p: float) -> str:
    return f"{max(0.0, min(1.0, float(p))):.4f}"


def _words(text: str, char_probs: list[float]) -> list[tuple[str, float]]:
    """Words of ``text`` with the mean probability of their characters."""
    out, start = [], None
    for i, ch in enumerate(text + " "):
        if ch != " " and start is None:
            start = i
        elif ch == " " and start is not None:
            probs = char_probs[start:i]
            out.append((text[start:i], float(np.mean(probs)) if probs else 0.0))
            start = None
    return out


def write_alto_line(tl, text: str, confidence: float, char_probs: list[float]) -> None:
    ns = _ns(tl.tag)
    content = [c for c in tl if _local(c.tag) in ("String", "SP", "HYP")]
    strings = [c for c in content if _local(c.tag) == "String"]
    words = _words(text, char_probs)
    if strings and len(strings) == len(words):
        for s, (w, p) in zip(strings, words):
            s.set("CONTENT", w)
            s.set("WC", _fmt_conf(p))
        return
    pos = list(tl).index(content[0]) if content else len(
        [c for c in tl if _local(c.tag) == "Shape"])
    geo = {a: tl.get(a) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT") if tl.get(a) is not None}
    tail = content[-1].tail if content else None
    for c in content:
        tl.remove(c)
    s = ET.Element(ns + "String", {"CONTENT": text, **geo, "WC": _fmt_conf(confidence)})
    s.tail = tail
    tl.insert(pos, s)


_PAGE_BEFORE_TEXTEQUIV = ("AlternativeImage", "Coords", "Baseline", "Word")


def write_page_line(tl, text: str, confidence: float) -> None:
    ns = _ns(tl.tag)
    old = [c for c in tl if _local(c.tag) == "TextEquiv"]
    pos = list(tl).index(old[0]) if old else 1 + max(
        (i for i, c in enumerate(tl) if _local(c.tag) in _PAGE_BEFORE_TEXTEQUIV), default=-1)
    tail = old[0].tail if old else None
    for c in old:
        tl.remove(c)
    eq = ET.Element(ns + "TextEquiv", {"conf": _fmt_conf(confidence)})
    uni = ET.SubElement(eq, ns + "Unicode")
    uni.text = text
    eq.tail = tail if tail is not None else (tl.text or None)
    tl.insert(pos, eq)


_PROLOG_ITEM = re.compile(rb"\s*(<\?xml[^>]*\?>|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.S)


def _prolog(original: bytes) -> bytes:
    """Comments, processing instructions and DOCTYPE before the root element (ElementTree keeps
    only the root, so they are carried over from the original bytes); not the XML declaration."""
    out, pos = [], 0
    while True:
        m = _PROLOG_ITEM.match(original, pos)
        if m is None:
            break
        if not m.group(1).startswith(b"<?xml "):
            out.append(m.group(0).lstrip(b"\r\n") if not out else m.group(0))
        pos = m.end()
    return b"".join(out).strip(b"\r\n")


def write_tree(tree: ET.ElementTree, out: Path, original: Path | None = None) -> None:
    """Write ``tree`` as UTF-8 with an XML declaration and the original file's prolog."""
    import io

    from stackmix.fs import atomic_write_bytes

    buf = io.BytesIO()
    tree.write(buf, encoding="UTF-8", xml_declaration=False)
    prolog = _prolog(Path(original).read_bytes()) if original is not None else b""
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + (prolog + b"\n" if prolog else b"")
    data += buf.getvalue().lstrip()
    if not data.endswith(b"\n"):
        data += b"\n"
    atomic_write_bytes(out, data)


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
           "read_page_lines", "recognize_page",
           "write_alto_line", "write_page_line"]
