"""ALTO XML (v2, v3, v4; e.g. eScriptorium / Transkribus exports) → text lines with crops.

Input: one ``.xml`` file or a folder searched recursively (files in sorted path order). For each
page the image is ``Description/sourceImageInformation/fileName`` (else the XML's stem with an
image extension), looked for beside the XML, in ``images=`` and in sibling folders such as
``../jpg/`` or ``../images/`` (:func:`stackmix.data.formats.page.find_page_image`). Lines are the ``TextLine`` elements in
document order; their text is the ``String/@CONTENT`` values with ``SP`` as spaces (``HYP`` kept),
or the strings joined by spaces when the file has no ``SP``.

Geometry: ``box`` crops ``HPOS VPOS WIDTH HEIGHT`` of the ``TextLine`` (else the bounding box of
its polygon, else of its strings); ``polygon`` crops the bounding box of ``Shape/Polygon/@POINTS``
and paints the pixels outside the polygon white. ``padding`` adds pixels around. Coordinates in
another ``MeasurementUnit`` than pixels (mm10, inch1200) or for a page whose ``WIDTH``/``HEIGHT``
differ from the image are scaled by image size ÷ page size (logged). A page whose lines then
still reach beyond the image (by more than 2 %) is refused as a whole, never cropped from a
geometry that does not fit. Lines without text or with an empty region are skipped and reported. Sample ids are ``<page stem>_<NNN>`` (line number in the page).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from stackmix.data.formats import Line
from stackmix.data.formats.page import (
    PageCache, PageDoesNotFit, bbox, children, crop_region, document_key, extents_of,
    find_page_image, first_child, fit_page, local, missing_image_reason, parse_points, parse_xml,
    xml_files,
)
from stackmix.data.sources.common import SkipFn


def _float(el, name: str) -> float | None:
    v = el.get(name)
    try:
        return float(v) if v is not None and v.strip() != "" else None
    except ValueError:
        return None


def line_text(tl) -> str:
    parts: list[str] = []
    strings = 0
    has_sp = False
    for c in tl:
        tag = local(c.tag)
        if tag == "String":
            parts.append(c.get("CONTENT") or "")
            strings += 1
        elif tag == "SP":
            parts.append(" ")
            has_sp = True
        elif tag == "HYP":
            parts.append(c.get("CONTENT") or "")
    if not has_sp and strings > 1:
        return " ".join(p for p in parts if p)
    return "".join(parts)


def line_geometry(tl) -> tuple[tuple[float, float, float, float] | None, np.ndarray | None]:
    poly = None
    shape = first_child(tl, "Shape")
    if shape is not None:
        pel = first_child(shape, "Polygon")
        if pel is not None:
            poly = parse_points(pel.get("POINTS"))
    x, y, w, h = (_float(tl, a) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    box = None
    if None not in (x, y, w, h):
        box = (x, y, x + w, y + h)
    elif poly is not None:
        box = bbox(poly)
    else:
        boxes = []
        for s in children(tl, "String"):
            sx, sy, sw, sh = (_float(s, a) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            if None not in (sx, sy, sw, sh):
                boxes.append((sx, sy, sx + sw, sy + sh))
        if boxes:
            box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                   max(b[2] for b in boxes), max(b[3] for b in boxes))
    return box, poly


def iter_lines(input: Path, *, geometry: str = "box", padding: int = 0,
               images: Path | None = None, skip: SkipFn) -> Iterator[Line]:
    cache = PageCache()
    for xml in xml_files(input):
        root = parse_xml(xml)
        if local(root.tag) != "alto":
            skip(xml.name, "not an ALTO file (root element is not <alto>)")
            continue
        name = None
        unit = "pixel"
        for el in root.iter():
            t = local(el.tag)
            if t == "fileName" and name is None:
                name = (el.text or "").strip() or None
            elif t == "MeasurementUnit":
                unit = (el.text or "pixel").strip()
        img_path, looked = find_page_image(xml, name, images)
        if img_path is None:
            skip(xml.name, missing_image_reason(xml, name, looked))
            continue
        page_el = next((el for el in root.iter() if local(el.tag) == "Page"), None)
        page_w = _float(page_el, "WIDTH") if page_el is not None else None
        page_h = _float(page_el, "HEIGHT") if page_el is not None else None
        page_key = xml.stem
        doc = document_key(xml, input)
        found = []
        for n, tl in enumerate(el for el in root.iter() if local(el.tag) == "TextLine"):
            line_id = f"{page_key}_{n:03d}"
            text = line_text(tl)
            if not text.strip():
                skip(line_id, f"empty transcription (TextLine {tl.get('ID')!r} in {xml.name})")
                continue
            box, poly = line_geometry(tl)
            if box is None:
                skip(line_id, f"TextLine {tl.get('ID')!r} has no coordinates")
                continue
            found.append((line_id, text, box, poly, tl.get("ID") or ""))
        if not found:
            continue
        try:
            sx, sy = fit_page(xml, img_path, (page_w, page_h), extents_of(f[2] for f in found),
                              always_scale=unit.lower() != "pixel")
        except PageDoesNotFit as e:
            skip(xml.name, f"page geometry does not fit the image: {e}")
            continue
        for line_id, text, box, poly, tl_id in found:
            yield Line(
                sample_id=line_id,
                text=text,
                load=_loader(cache, img_path, box, poly if geometry == "polygon" else None,
                             padding, sx, sy),
                page=page_key,
                document=doc,
                extra={"line_id": tl_id},
            )


def _loader(cache: PageCache, img_path: Path, box, poly, padding: int, sx: float, sy: float):
    def load() -> np.ndarray:
        page = cache.get(img_path)
        b = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
        p = poly * [sx, sy] if poly is not None else None
        return crop_region(page, b, p, padding)

    return load
