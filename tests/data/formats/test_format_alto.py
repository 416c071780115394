"""ALTO import: the real poilus pages (shared fixture) and synthetic pages with exact crops."""
from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.formats import import_dataset, iter_lines
from stackmix.data.marking import read_marking
from stackmix.data.image import read_gray

_DEFAULT = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
POILUS = Path(os.environ.get("STACKMIX_SHARED_DATA", _DEFAULT)) / "poilus"
NS = "{http://www.loc.gov/standards/alto/ns-v4#}"


def poilus_reference() -> tuple[list[Path], list[dict]]:
    if not (POILUS / "alto_pages").is_dir() or not (POILUS / "marking.csv").is_file():
        pytest.skip(f"shared poilus data not found at {POILUS}")
    pages = sorted((POILUS / "alto_pages").glob("*.xml"))
    prefixes = [p.stem.split("_will_")[-1] + "-" for p in pages]  # AD78_0038-0-
    with open(POILUS / "marking.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ref = [r for pre in prefixes for r in rows if r["sample_id"].startswith(pre)]
    return pages, ref


def alto_boxes(pages: list[Path]) -> list[tuple[Path, tuple[int, int, int, int]]]:
    out = []
    for xml in pages:
        for tl in ET.parse(xml).getroot().iter(f"{NS}TextLine"):
            x, y, w, h = (int(float(tl.get(a))) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            out.append((xml.with_suffix(".jpg"), (x, y, w, h)))
    return out


def test_poilus_pages_yield_the_marking_lines(tmp_path):
    pages, ref = poilus_reference()
    skipped = []
    lines = list(iter_lines("alto", POILUS / "alto_pages", skip=lambda i, r: skipped.append(i)))
    assert skipped == []
    assert [ln.text for ln in lines] == [r["text"] for r in ref]
    assert len(lines) == 30

    report = import_dataset("alto", POILUS / "alto_pages", tmp_path / "out", split="none",
                            stage="test")
    marking = read_marking(tmp_path / "out")
    assert [s.text for s in marking.samples] == [r["text"] for r in ref]
    assert report.counts == {"train": 0, "valid": 0, "test": 30}
    # crops are exactly the ALTO boxes of the page images
    boxes = alto_boxes(pages)
    page_cache = {}
    for s, (img, (x, y, w, h)) in zip(marking.samples, boxes):
        page = page_cache.setdefault(img, read_gray(img))
        assert np.array_equal(read_gray(s.path), page[y:y + h, x:x + w])


def test_poilus_crops_match_the_published_line_images(tmp_path):
    _, ref = poilus_reference()
    import_dataset("alto", POILUS / "alto_pages", tmp_path / "out", split="none", stage="test",
                   padding=12)
    ncc = []
    for s, r in zip(read_marking(tmp_path / "out").samples, ref):
        mine, theirs = read_gray(s.path), read_gray(POILUS / r["path"]).astype(np.float64)
        mine = cv2.resize(mine, theirs.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float64)
        a, b = mine - mine.mean(), theirs - theirs.mean()
        ncc.append((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    assert min(ncc) > 0.6 and np.mean(ncc) > 0.85


def test_poilus_polygon_geometry(tmp_path):
    pages, _ = poilus_reference()
    lines = list(iter_lines("alto", pages[0], geometry="polygon", skip=lambda i, r: None))
    crop = lines[0].load()
    root = ET.parse(pages[0]).getroot()
    pts = [p for p in root.iter(f"{NS}TextLine")][0].find(f"{NS}Shape/{NS}Polygon").get("POINTS")
    pts = np.array(pts.split(), float).reshape(-1, 2)
    x0, y0 = pts.min(0)
    assert crop.shape == (int(pts[:, 1].max() - y0), int(pts[:, 0].max() - x0))
    assert crop[0, -1] == 255  # a corner outside the polygon is painted white


def _page(tmp: Path, name: str, size=(120, 200), seed=0) -> np.ndarray:
    img = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    cv2.imwrite(str(tmp / name), img)
    return img


ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v{v}#">
  <Description><MeasurementUnit>{unit}</MeasurementUnit>
    <sourceImageInformation><fileName>{img}</fileName></sourceImageInformation></Description>
  <Layout><Page WIDTH="{pw}" HEIGHT="{ph}"><PrintSpace>
    <TextBlock ID="b1">
      <TextLine ID="l1" HPOS="{a[0]}" VPOS="{a[1]}" WIDTH="{a[2]}" HEIGHT="{a[3]}">
        <String CONTENT="Hello"/><SP/><String CONTENT="world,"/><SP/><String CONTENT="ex"/><HYP CONTENT="-"/>
      </TextLine>
      <TextLine ID="l2" HPOS="{b[0]}" VPOS="{b[1]}" WIDTH="{b[2]}" HEIGHT="{b[3]}"><String CONTENT=" "/></TextLine>
    </TextBlock>
    <TextBlock ID="b2">
      <TextLine ID="l3"><Shape><Polygon POINTS="{poly}"/></Shape>
        <String CONTENT="no"/><String CONTENT="spaces"/></TextLine>
    </TextBlock>
  </PrintSpace></Page></Layout>
</alto>
"""


def test_synthetic_alto_text_boxes_units(tmp_path):
    src = tmp_path / "in" / "docA"
    src.mkdir(parents=True)
    img = _page(src, "p1.png")
    (src / "p1.xml").write_text(ALTO.format(v=4, unit="pixel", img="p1.png", pw=200, ph=120,
                                            a=(10, 20, 50, 15), b=(0, 0, 5, 5),
                                            poly="100,60 150,60 150,90 100,90"))
    img2 = _page(src, "p2.png", seed=1)
    # mm10 units with a page declared twice as large as the image: coordinates are halved
    (src / "p2.xml").write_text(ALTO.format(v=2, unit="mm10", img="p2.png", pw=400, ph=240,
                                            a=(20, 40, 100, 30), b=(0, 0, 5, 5),
                                            poly="200 120 300 120 300 180 200 180"))
    skipped = []
    lines = list(iter_lines("alto", tmp_path / "in", skip=lambda i, r: skipped.append((i, r))))
    assert [(ln.sample_id, ln.text, ln.page, ln.document) for ln in lines] == [
        ("p1_000", "Hello world, ex-", "p1", "docA"), ("p1_002", "no spaces", "p1", "docA"),
        ("p2_000", "Hello world, ex-", "p2", "docA"), ("p2_002", "no spaces", "p2", "docA")]
    assert [i for i, _ in skipped] == ["p1_001", "p2_001"]
    assert np.array_equal(lines[0].load(), img[20:35, 10:60])
    assert np.array_equal(lines[1].load(), img[60:90, 100:150])
    assert np.array_equal(lines[2].load(), img2[20:35, 10:60])
    assert np.array_equal(lines[3].load(), img2[60:90, 100:150])


def test_alto_missing_image_and_bad_xml(tmp_path):
    (tmp_path / "a.xml").write_text(ALTO.format(v=4, unit="pixel", img="nope.png", pw=1, ph=1,
                                                a=(0, 0, 1, 1), b=(0, 0, 1, 1), poly="0 0 1 1"))
    skipped = []
    assert list(iter_lines("alto", tmp_path, skip=lambda i, r: skipped.append((i, r)))) == []
    assert len(skipped) == 1 and skipped[0][0] == "a.xml"
    assert skipped[0][1].startswith(f"page image nope.png not found; looked in {tmp_path}")
    assert "images=" in skipped[0][1]
    (tmp_path / "b.xml").write_text("<alto><broken")
    from stackmix.data.sources.common import ConversionError

    with pytest.raises(ConversionError, match="not well-formed XML"):
        list(iter_lines("alto", tmp_path / "b.xml", skip=lambda i, r: None))


def _alto_page(folder: Path, stem: str, img_name: str, size=(120, 200), seed=0, coords_scale=1.0):
    folder.mkdir(parents=True, exist_ok=True)
    a = tuple(round(v * coords_scale) for v in (10, 20, 50, 15))
    (folder / f"{stem}.xml").write_text(ALTO.format(
        v=4, unit="pixel", img=img_name, pw=size[1], ph=size[0], a=a, b=(0, 0, 5, 5),
        poly=" ".join(str(round(v * coords_scale)) for v in (100, 60, 150, 60, 150, 90))))


def test_alto_images_in_a_sibling_folder_or_images_option(tmp_path):
    # collections often ship alto/ and jpg/ (or images/) side by side
    coll = tmp_path / "coll"
    _alto_page(coll / "alto", "p1", "p1.png")
    (coll / "jpg").mkdir()
    img = _page(coll / "jpg", "p1.png")
    lines = list(iter_lines("alto", coll / "alto", skip=lambda i, r: "empty" in r or pytest.fail(r)))
    assert np.array_equal(lines[0].load(), img[20:35, 10:60])
    # images= anywhere (nested below it), fileName with a foreign absolute path
    _alto_page(tmp_path / "xml", "p2", "C:\\scans\\p2.png")
    (tmp_path / "elsewhere" / "box3").mkdir(parents=True)
    img2 = _page(tmp_path / "elsewhere" / "box3", "p2.png", seed=4)
    skipped = []
    assert list(iter_lines("alto", tmp_path / "xml", skip=lambda i, r: skipped.append(r))) == []
    assert "pass images=" in skipped[0]
    lines = list(iter_lines("alto", tmp_path / "xml", images=tmp_path / "elsewhere",
                            skip=lambda i, r: "empty" in r or pytest.fail(r)))
    assert np.array_equal(lines[0].load(), img2[20:35, 10:60])


def test_alto_geometry_beyond_the_image_refuses_the_page(tmp_path):
    # the XML's coordinates are 1.6x the image although its declared size matches the image
    _alto_page(tmp_path, "big", "big.png", coords_scale=1.6)
    _page(tmp_path, "big.png")
    skipped = []
    assert list(iter_lines("alto", tmp_path, skip=lambda i, r: skipped.append((i, r)))) == []
    assert [i for i, _ in skipped] == ["big_001", "big.xml"]
    reason = skipped[1][1]
    assert "does not fit the image" in reason and "200×120" in reason and "none of" in reason
