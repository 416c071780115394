"""`python predict.py`: same texts as the evaluation predictions, CSV/JSONL/stdout, bad files."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from inference_fixtures import tiny_run  # noqa: E402

from conftest import REPO  # noqa: E402
from stackmix.cli import predict  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def compose_predict(overrides):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("predict", overrides=overrides)


@pytest.mark.slow  # predict.py in a subprocess
def test_predict_folder_gives_the_evaluation_predictions(tiny, tmp_path):
    folder = tmp_path / "test_images"
    folder.mkdir()
    for p in tiny.test_images:
        shutil.copy(p, folder / p.name)
    (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    out = tmp_path / "preds.csv"
    cmd = [sys.executable, str(REPO / "predict.py"), f"ckpt={tiny.ckpt}", f"input={folder}",
           f"out={out}", "batch_size=3", "num_workers=0", "on_error=skip"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipped 1 unreadable image" in proc.stderr and "broken.png" in proc.stderr
    assert set(tmp_path.iterdir()) == {folder, out}  # nothing else written (no Hydra folders)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [Path(r["path"]).name for r in rows] == [p.name for p in tiny.test_images]
    evaluation = list(csv.DictReader(tiny.predictions.open(encoding="utf-8")))
    assert [r["text"] for r in rows] == [r["prediction"] for r in evaluation]
    for r in rows:
        assert 0.0 <= float(r["confidence"]) <= 1.0
        probs = [float(p) for p in r["char_confidences"].split()]
        assert len(probs) == len(r["text"]) and all(0.0 <= p <= 1.0 for p in probs)

    # without on_error=skip an unreadable image stops the run with a message naming it
    cfg = compose_predict([f"ckpt={tiny.ckpt}", f"input={folder}", "num_workers=0"])
    with pytest.raises(predict.PredictError, match=r"broken\.png.*on_error=skip"):
        predict.run(cfg)


def test_predict_one_image_prints_its_text(tiny, capsys):
    cfg = compose_predict([f"ckpt={tiny.ckpt}", f"input={tiny.test_images[0]}", "num_workers=0"])
    rows = predict.run(cfg)
    assert capsys.readouterr().out == rows[0]["text"] + "\n"


def test_predict_split_to_jsonl_with_references(tiny, tmp_path):
    out = tmp_path / "test.jsonl"
    cfg = compose_predict([f"ckpt={tiny.run_dir}", f"dataset_root={tiny.data}", "split=test",
                           f"out={out}", "num_workers=0", "decoder=beam",
                           "decoder.beam_width=4", "decoder.lm.corpus=@train"])
    predict.run(cfg)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8 and rows[0]["sample_id"] == "s0032"
    assert set(rows[0]) == {"sample_id", "path", "text", "confidence", "char_confidences",
                            "reference", "cer"}
    assert all(len(r["char_confidences"]) == len(r["text"]) for r in rows)


def test_predict_reports_user_errors_clearly(tiny, tmp_path):
    with pytest.raises(predict.PredictError, match="nothing to recognize"):
        predict.run(compose_predict([f"ckpt={tiny.ckpt}"]))
    with pytest.raises(predict.PredictError, match="missing.png"):
        predict.run(compose_predict([f"ckpt={tiny.ckpt}", f"input={tmp_path}/missing.png"]))
    with pytest.raises(predict.PredictError, match="model file not found"):
        predict.run(compose_predict([f"ckpt={tmp_path}/none.ckpt",
                                     f"input={tiny.test_images[0]}"]))


# ---------------------------------------------------------------------------- pages in, pages out
ALTO_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- exported by a test -->
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# alto-4-2.xsd">
  <Description><MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation><fileName>{img}</fileName></sourceImageInformation></Description>
  <Tags><OtherTag ID="LT1" LABEL="DefaultLine"/></Tags>
  <Layout><Page WIDTH="{w}" HEIGHT="{h}" ID="p1"><PrintSpace HPOS="0" VPOS="0" WIDTH="{w}" HEIGHT="{h}">
    <TextBlock ID="b1" HPOS="0" VPOS="0" WIDTH="{w}" HEIGHT="{h}">
{lines}
    </TextBlock>
  </PrintSpace></Page></Layout>
</alto>
"""
ALTO_LINE = """      <TextLine ID="l{k}" TAGREFS="LT1" BASELINE="{x0} {yb} {x1} {yb}" HPOS="{x0}" VPOS="{y0}" WIDTH="{lw}" HEIGHT="{lh}">
        <Shape><Polygon POINTS="{x0} {y0} {x1} {y0} {x1} {y1} {x0} {y1}"/></Shape>
        <String CONTENT="old" HPOS="{x0}" VPOS="{y0}" WIDTH="{lw}" HEIGHT="{lh}"/><SP/><String CONTENT="text"/>
      </TextLine>"""
PAGE_PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Metadata><Creator>test</Creator><Created>2024-01-01T00:00:00</Created></Metadata>
  <Page imageFilename="{img}" imageWidth="{w}" imageHeight="{h}">
    <TextRegion id="r1" custom="readingOrder {{index:0;}}">
      <Coords points="0,0 {w},0 {w},{h} 0,{h}"/>
{lines}
      <TextEquiv><Unicode>region text stays</Unicode></TextEquiv>
    </TextRegion>
  </Page>
</PcGts>
"""
PAGE_LINE = """      <TextLine id="l{k}">
        <Coords points="{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"/>
        <Baseline points="{x0},{yb} {x1},{yb}"/>
        <TextEquiv index="1"><Unicode>old</Unicode></TextEquiv>
      </TextLine>"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Random weights (no training) and the line images of a tiny dataset: page tests compare
    page predictions with line predictions, which needs a model, not a good one."""
    from types import SimpleNamespace

    from conftest import make_dataset, untrained_checkpoint

    base = tmp_path_factory.mktemp("page_model")
    data = make_dataset(base / "data", counts=(2, 2, 4))
    return SimpleNamespace(ckpt=untrained_checkpoint(base / "model.ckpt"),
                           test_images=sorted((data / "lines").glob("*.png"))[4:8])


def _make_page(model, folder: Path, template: str, line_template: str):
    """A page image holding the test lines at known places, and its XML."""
    import cv2
    import numpy as np

    from stackmix.data.image import read_gray

    lines = [read_gray(p) for p in model.test_images[:4]]
    width = max(im.shape[1] for im in lines) + 40
    height = sum(im.shape[0] + 15 for im in lines) + 20
    page = np.full((height, width), 255, np.uint8)
    xml_lines, y = [], 10
    for k, im in enumerate(lines):
        h, w = im.shape
        x0 = 20
        page[y:y + h, x0:x0 + w] = im
        xml_lines.append(line_template.format(k=k, x0=x0, y0=y, x1=x0 + w, y1=y + h, lw=w, lh=h,
                                              yb=y + h - 4))
        y += h + 15
    (folder / "photos").mkdir(parents=True)
    cv2.imwrite(str(folder / "photos" / "page.png"), page)
    (folder / "xml").mkdir()
    xml = folder / "xml" / "page.xml"
    xml.write_text(template.format(img="page.png", w=width, h=height, lines="\n".join(xml_lines)),
                   encoding="utf-8")
    return xml


def _elements(path: Path, skip_inside_line: tuple[str, ...]):
    """(tag, attributes, text) of every element except the text children of TextLines."""
    import xml.etree.ElementTree as ET

    out = []

    def walk(el, in_line_text=False):
        tag = el.tag.rsplit("}", 1)[-1]
        if not in_line_text:
            out.append((el.tag, dict(el.attrib), (el.text or "").strip()))
        for c in el:
            ctag = c.tag.rsplit("}", 1)[-1]
            walk(c, in_line_text or (tag == "TextLine" and ctag in skip_inside_line))

    walk(ET.parse(path).getroot())
    return out


def _line_predictions(model):
    from stackmix.inference.decoder_factory import build_decoder
    from stackmix.inference.engine import Recognizer, recognize

    rec = Recognizer.load(model.ckpt, device="cpu")
    run = recognize(rec, model.test_images[:4], build_decoder("greedy", rec.alphabet),
                    progress=False)
    return [(r.text, r.confidence) for r in run.results]


def test_predict_alto_page_round_trip(model, tmp_path):
    import xml.etree.ElementTree as ET

    xml = _make_page(model, tmp_path, ALTO_PAGE, ALTO_LINE)
    out = tmp_path / "out.xml"
    rows = predict.run(compose_predict([f"ckpt={model.ckpt}", f"input={xml}", f"out={out}",
                                        f"images={tmp_path}/photos"]))
    expected = _line_predictions(model)
    assert [(r["line_id"], r["text"]) for r in rows] == [(f"l{k}", t)
                                                          for k, (t, _) in enumerate(expected)]
    ns = "{http://www.loc.gov/standards/alto/ns-v4#}"
    got = ET.parse(out).getroot()
    for k, tl in enumerate(got.iter(f"{ns}TextLine")):
        text, conf = expected[k]
        strings = tl.findall(f"{ns}String")
        assert tl.findall(f"{ns}SP") == [] or len(strings) == len(text.split())
        if len(text.split()) != 2:  # not the in-place case: one String with the whole line
            assert [s.get("CONTENT") for s in strings] == [text]
            assert float(strings[0].get("WC")) == pytest.approx(conf if text else 0.0, abs=1e-4)
            assert strings[0].get("HPOS") == tl.get("HPOS")
    # every other element and attribute is as it was; prefixes and the comment are kept
    assert _elements(out, ("String", "SP", "HYP")) == _elements(xml, ("String", "SP", "HYP"))
    raw = out.read_text(encoding="utf-8")
    assert "<!-- exported by a test -->" in raw and "ns0:" not in raw
    assert 'xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v4# alto-4-2.xsd"' in raw


def test_predict_page_xml_round_trip(model, tmp_path):
    import xml.etree.ElementTree as ET

    xml = _make_page(model, tmp_path, PAGE_PAGE, PAGE_LINE)
    # images in a sibling folder (../photos is not a known name: images= is needed)
    with pytest.raises(predict.PredictError, match="looked in"):
        predict.run(compose_predict([f"ckpt={model.ckpt}", f"input={xml}"]))
    (tmp_path / "images").symlink_to(tmp_path / "photos")  # ../images is found on its own
    predict.run(compose_predict([f"ckpt={model.ckpt}", f"input={tmp_path}/xml"]))
    out = xml.with_name("page.pred.xml")
    expected = _line_predictions(model)
    ns = "{http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15}"
    lines = list(ET.parse(out).getroot().iter(f"{ns}TextLine"))
    assert len(lines) == 4
    for tl, (text, conf) in zip(lines, expected):
        eqs = tl.findall(f"{ns}TextEquiv")
        assert len(eqs) == 1 and (eqs[0].find(f"{ns}Unicode").text or "") == text
        assert float(eqs[0].get("conf")) == pytest.approx(conf if text else 0.0, abs=1e-4)
        assert [c.tag.rsplit("}", 1)[-1] for c in tl] == ["Coords", "Baseline", "TextEquiv"]
    assert _elements(out, ("TextEquiv",)) == _elements(xml, ("TextEquiv",))
    assert "region text stays" in out.read_text(encoding="utf-8")


def test_alto_strings_keep_their_geometry_when_the_word_count_matches():
    import xml.etree.ElementTree as ET

    from stackmix.inference.page_write import write_alto_line

    tl = ET.fromstring('<TextLine HPOS="0" VPOS="0" WIDTH="90" HEIGHT="9"><String CONTENT="a" '
                       'HPOS="1"/><SP/><String CONTENT="b" HPOS="50"/></TextLine>')
    write_alto_line(tl, "no way", 0.7, [0.9, 0.7, 0.5, 0.2, 0.4, 0.6])
    assert [(s.get("CONTENT"), s.get("HPOS"), s.get("WC")) for s in tl.findall("String")] == [
        ("no", "1", "0.8000"), ("way", "50", "0.4000")]
    write_alto_line(tl, "one two three", 0.5, [0.5] * 13)
    assert [(s.get("CONTENT"), s.get("HPOS"), s.get("WC")) for s in tl] == [
        ("one two three", "0", "0.5000")]


def test_a_whole_page_given_as_a_line_gets_a_warning(model, tmp_path, caplog):
    import cv2
    import numpy as np

    page = tmp_path / "scan.png"
    cv2.imwrite(str(page), np.full((1400, 1000), 255, np.uint8))
    with caplog.at_level("WARNING"):
        predict.run(compose_predict([f"ckpt={model.ckpt}", f"input={page}", "num_workers=0",
                                     f"out={tmp_path}/o.csv"]))
    assert "look like whole pages" in caplog.text and "scan.png (1000×1400)" in caplog.text
    assert "kraken" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        predict.run(compose_predict([f"ckpt={model.ckpt}", f"input={model.test_images[0]}",
                                     "num_workers=0", f"out={tmp_path}/o.csv"]))
    assert "whole pages" not in caplog.text
