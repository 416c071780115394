"""PAGE-XML import (2013 and 2019 schemas, reading order, Point coordinates, polygons)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from stackmix.data.formats import import_dataset, iter_lines
from stackmix.data.marking import read_marking
from stackmix.data.image import read_gray

PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/{ver}">
  <Page imageFilename="{img}" imageWidth="{w}" imageHeight="{h}">
    <ReadingOrder><OrderedGroup id="ro">
      <RegionRefIndexed index="1" regionRef="r1"/>
      <RegionRefIndexed index="0" regionRef="r2"/>
    </OrderedGroup></ReadingOrder>
    <TextRegion id="r1">
      <Coords points="0,0 199,0 199,59 0,59"/>
      <TextLine id="r1l1"><Coords points="10,10 60,10 60,30 10,30"/>
        <TextEquiv index="1"><Unicode>second choice</Unicode></TextEquiv>
        <TextEquiv index="0"><Unicode>first line</Unicode></TextEquiv></TextLine>
      <TextLine id="r1l2"><Coords points="10,35 90,35 90,55 10,55"/>
        <Word id="w1"><Coords points="10,35 40,35 40,55 10,55"/><TextEquiv><Unicode>from</Unicode></TextEquiv></Word>
        <Word id="w2"><Coords points="45,35 90,35 90,55 45,55"/><TextEquiv><Unicode>words</Unicode></TextEquiv></Word>
      </TextLine>
      <TextLine id="r1l3"><Coords points="1,1 2,2 3,1"/><TextEquiv><Unicode></Unicode></TextEquiv></TextLine>
    </TextRegion>
    <TextRegion id="r2">
      <Coords points="0,60 199,60 199,119 0,119"/>
      <TextLine id="r2l1"><Coords points="100,70 150,70 150,100 100,100"/>
        <TextEquiv><Unicode>read first</Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>
"""

PAGE2010 = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2010-03-19">
  <Page imageFilename="old.png" imageWidth="200" imageHeight="120">
    <TextRegion id="r"><Coords><Point x="0" y="0"/><Point x="199" y="119"/></Coords>
      <TextLine id="l"><Coords><Point x="20" y="40"/><Point x="80" y="40"/><Point x="80" y="70"/>
        <Point x="20" y="70"/></Coords><TextEquiv><Unicode>old style</Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>
"""


def _page(path: Path, seed: int, size=(120, 200)) -> np.ndarray:
    img = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    cv2.imwrite(str(path), img)
    return img


def test_pagexml_2019_reading_order_and_text(tmp_path):
    img = _page(tmp_path / "p.png", 0)
    (tmp_path / "p.xml").write_text(PAGE.format(ver="2019-07-15", img="p.png", w=200, h=120))
    skipped = []
    lines = list(iter_lines("pagexml", tmp_path, skip=lambda i, r: skipped.append(i)))
    assert [(ln.sample_id, ln.text, ln.extra["line_id"]) for ln in lines] == [
        ("p_000", "read first", "r2l1"), ("p_001", "first line", "r1l1"),
        ("p_002", "from words", "r1l2")]
    assert skipped == ["p_003"]
    assert np.array_equal(lines[0].load(), img[70:100, 100:150])
    assert np.array_equal(lines[2].load(), img[35:55, 10:90])


def test_pagexml_2013_scaled_and_2010_points(tmp_path):
    img = _page(tmp_path / "p.png", 1)
    # the XML describes a page twice the image's size: coordinates are scaled by 1/2
    (tmp_path / "p.xml").write_text(PAGE.format(ver="2013-07-15", img="p.png", w=400, h=240))
    img2 = _page(tmp_path / "old.png", 2)
    (tmp_path / "old.xml").write_text(PAGE2010)
    lines = list(iter_lines("pagexml", tmp_path, skip=lambda i, r: None))
    assert [ln.text for ln in lines] == ["old style", "read first", "first line", "from words"]
    assert np.array_equal(lines[0].load(), img2[40:70, 20:80])
    assert np.array_equal(lines[1].load(), img[35:50, 50:75])


def test_pagexml_polygon_and_import(tmp_path):
    _page(tmp_path / "p.png", 3)
    xml = PAGE.format(ver="2019-07-15", img="p.png", w=200, h=120).replace(
        '<Coords points="100,70 150,70 150,100 100,100"/>',
        '<Coords points="100,70 150,70 100,100"/>')  # a triangle
    (tmp_path / "p.xml").write_text(xml)
    report = import_dataset("pagexml", tmp_path / "p.xml", tmp_path / "out", split="none",
                            stage="valid", geometry="polygon")
    first = read_marking(tmp_path / "out").samples[0]
    crop = read_gray(first.path)
    assert crop.shape == (30, 50)
    assert crop[-1, -1] == 255  # bottom-right corner is outside the triangle
    assert report.counts == {"train": 0, "valid": 3, "test": 0}
    assert [s.item for s in report.skipped] == ["p_003"]


def test_pagexml_declared_size_differs_from_the_image_is_rescaled(tmp_path, caplog):
    # coordinates drawn on a 320x192 scan (1.6x), the image shipped is 200x120
    img = _page(tmp_path / "p.png", 5)
    xml = PAGE.format(ver="2019-07-15", img="p.png", w=320, h=192)
    xml = xml.replace("100,70 150,70 150,100 100,100", "160,112 240,112 240,160 160,160")
    (tmp_path / "p.xml").write_text(xml)
    with caplog.at_level("WARNING"):
        lines = list(iter_lines("pagexml", tmp_path, skip=lambda i, r: None))
    assert lines[0].text == "read first"
    assert np.array_equal(lines[0].load(), img[70:100, 100:150])
    assert "declares a 320×192 page but p.png is 200×120" in caplog.text


def test_pagexml_geometry_that_does_not_fit_is_refused_not_cropped(tmp_path):
    # declared size = image size, but one line lies 1.6x too far: the whole page is refused
    _page(tmp_path / "p.png", 6)
    xml = PAGE.format(ver="2019-07-15", img="p.png", w=200, h=120)
    xml = xml.replace("100,70 150,70 150,100 100,100", "160,112 240,112 240,160 160,160")
    (tmp_path / "p.xml").write_text(xml)
    skipped = []
    assert list(iter_lines("pagexml", tmp_path, skip=lambda i, r: skipped.append((i, r)))) == []
    assert skipped[-1][0] == "p.xml"
    assert "x 10..240, y 10..160" in skipped[-1][1] and "is 200×120" in skipped[-1][1]
    # without a declared size the same check applies
    (tmp_path / "p.xml").write_text(xml.replace('imageWidth="200" imageHeight="120"', ""))
    skipped = []
    assert list(iter_lines("pagexml", tmp_path, skip=lambda i, r: skipped.append((i, r)))) == []
    assert "declares no page size" in skipped[-1][1]
