"""PAGE XML (PRImA; 2013-07-15 and 2019-07-15 schemas, 2010 ``Point`` coordinates too) → lines.

Input: one ``.xml`` file or a folder searched recursively (sorted). The page image is
``Page/@imageFilename`` (else the XML's stem with an image extension), looked for beside the XML,
in ``images=`` and in sibling folders such as ``../jpg/`` or ``../images/``. Regions
follow ``ReadingOrder`` (``RegionRefIndexed``/``RegionRef`` in its groups) when present, then the
remaining ``TextRegion`` elements in document order; lines are each region's ``TextLine`` children
in document order. A line's text is its own ``TextEquiv/Unicode`` (the one with the lowest
``@index`` when there are several), else its ``Word`` texts joined by spaces.

Geometry: ``box`` crops the bounding box of ``Coords/@points`` (``x,y x,y ...``); ``polygon``
also paints the pixels outside the polygon white. ``padding`` adds pixels around. If
``Page/@imageWidth``/``@imageHeight`` differ from the real image, coordinates are scaled by image
÷ declared size (logged); a page whose lines then still reach beyond the image (by more than 2 %)
is refused as a whole with a message giving both sizes, never cropped silently. Lines
without text or coordinates are skipped and reported. Sample ids are ``<page stem>_<NNN>``.
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


def coords(el) -> np.ndarray | None:
    c = first_child(el, "Coords")
    if c is None:
        return None
    pts = parse_points(c.get("points"))
    if pts is None:
        xy = [(float(p.get("x")), float(p.get("y"))) for p in children(c, "Point")
              if p.get("x") is not None and p.get("y") is not None]
        pts = np.asarray(xy, dtype=np.float64) if len(xy) >= 2 else None
    return pts


def equiv_text(el) -> str | None:
    eqs = children(el, "TextEquiv")
    if not eqs:
        return None

    def idx(e):
        try:
            return int(e.get("index", 0))
        except ValueError:
            return 0

    eq = min(eqs, key=idx)
    u = first_child(eq, "Unicode")
    return (u.text or "") if u is not None else ""


def line_text(tl) -> str:
    t = equiv_text(tl)
    if t is not None and t.strip():
        return t
    words = [equiv_text(w) or "" for w in children(tl, "Word")]
    return " ".join(w for w in words if w.strip())


def ordered_regions(page) -> list:
    regions = [el for el in page.iter() if local(el.tag) == "TextRegion"]
    ro = next((el for el in page.iter() if local(el.tag) == "ReadingOrder"), None)
    if ro is None:
        return regions
    refs: list[str] = []

    def walk(group):
        items = [c for c in group if local(c.tag) in (
            "RegionRefIndexed", "OrderedGroupIndexed", "UnorderedGroupIndexed",
            "RegionRef", "OrderedGroup", "UnorderedGroup")]
        if any(c.get("index") is not None for c in items):
            items.sort(key=lambda c: int(c.get("index", 0)))
        for c in items:
            if local(c.tag).startswith("RegionRef"):
                refs.append(c.get("regionRef"))
            else:
                if c.get("regionRef"):
                    refs.append(c.get("regionRef"))
                walk(c)

    walk(ro)
    by_id = {r.get("id"): r for r in regions}
    out, seen = [], set()
    for ref in refs:
        r = by_id.get(ref)
        if r is not None and id(r) not in seen:
            out.append(r)
            seen.add(id(r))
    out += [r for r in regions if id(r) not in seen]
    return out


def iter_lines(input: Path, *, geometry: str = "box", padding: int = 0,
               images: Path | None = None, skip: SkipFn) -> Iterator[Line]:
    cache = PageCache()
    for xml in xml_files(input):
        root = parse_xml(xml)
        if local(root.tag) != "PcGts":
            skip(xml.name, "not a PAGE file (root element is not <PcGts>)")
            continue
        page = next((el for el in root.iter() if local(el.tag) == "Page"), None)
        if page is None:
            skip(xml.name, "no <Page> element")
            continue
        img_path, looked = find_page_image(xml, page.get("imageFilename"), images)
        if img_path is None:
            skip(xml.name, missing_image_reason(xml, page.get("imageFilename"), looked))
            continue
        try:
            pw, ph = float(page.get("imageWidth") or 0), float(page.get("imageHeight") or 0)
        except ValueError:
            pw = ph = 0.0
        page_key, doc = xml.stem, document_key(xml, input)
        found = []
        n = 0
        for region in ordered_regions(page):
            for tl in children(region, "TextLine"):
                line_id = f"{page_key}_{n:03d}"
                n += 1
                text = line_text(tl)
                if not text.strip():
                    skip(line_id, f"empty transcription (TextLine {tl.get('id')!r} in {xml.name})")
                    continue
                poly = coords(tl)
                if poly is None:
                    skip(line_id, f"TextLine {tl.get('id')!r} has no coordinates")
                    continue
                found.append((line_id, text, poly, tl.get("id") or ""))
        if not found:
            continue
        try:
            sx, sy = fit_page(xml, img_path, (pw, ph), extents_of(bbox(f[2]) for f in found))
        except PageDoesNotFit as e:
            skip(xml.name, f"page geometry does not fit the image: {e}")
            continue
        for line_id, text, poly, tl_id in found:
            yield Line(line_id, text,
                       _loader(cache, img_path, poly * [sx, sy], geometry == "polygon", padding),
                       page_key, doc, {"line_id": tl_id})


def _loader(cache, img_path: Path, poly: np.ndarray, use_poly: bool, padding: int):
    def load() -> np.ndarray:
        page = cache.get(img_path)
        return crop_region(page, bbox(poly), poly if use_poly else None, padding)

    return load
