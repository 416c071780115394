"""`make prepare-poilus`: download a small archive in the release's real layout from a local HTTP
server (SHA-256 recorded on first download), convert it with the ALTO importer, writer split."""
from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from stackmix import resolvers  # noqa: F401
from stackmix.data.download import ManualDownloadRequired
from stackmix.data.marking import read_marking
from stackmix.data.sources import convert
from stackmix.data.sources import poilus
from stackmix.data.sources.common import ConversionError
from stackmix.tasks import dataset as dataset_task

TOP = "CREMMA-AN-TestamentsDePoilus-2.0.0"
ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
  <Description><MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation><fileName>{img}</fileName></sourceImageInformation></Description>
  <Layout><Page WIDTH="400" HEIGHT="300"><PrintSpace><TextBlock ID="b">{lines}</TextBlock>
  </PrintSpace></Page></Layout>
</alto>
"""
LINE = ('<TextLine ID="l{k}" HPOS="{x}" VPOS="{y}" WIDTH="{w}" HEIGHT="{h}">'
        '<String CONTENT="{text}"/></TextLine>')
# (will, page) -> texts; one valid writer (AN_0034), one test writer (AD78_0038), one train
PAGES = {
    ("AD78_0005", 0): ["Ceci est mon Testament", "Par le présent"],
    ("AD78_0005", 1): ["pour ma légataire"],
    ("AN_0034", 0): ["je lègue"],
    ("AD78_0038", 0): ["à ma mère", "tous mes biens"],
    ("AD95_0001", 0): ["page left out"],
}
WRITERS = {"valid_writers": ["AN_0034"], "test_writers": ["AD78_0038"],
           "exclude_pages": ["AD95_0001-0"]}


def make_release(folder: Path) -> dict[str, np.ndarray]:
    """The release's files under ``folder/<TOP>/data/batch-1``; returns the page images."""
    data = folder / TOP / "data" / "batch-1"
    data.mkdir(parents=True)
    (folder / TOP / "README.md").write_text("release readme\n")
    pages = {}
    for k, ((will, page), texts) in enumerate(PAGES.items()):
        stem = f"TestamentsDePoilus_will_{will}-{page}"
        img = np.random.default_rng(k).integers(0, 256, (300, 400), dtype=np.uint8)
        cv2.imwrite(str(data / f"{stem}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
        pages[stem] = cv2.imread(str(data / f"{stem}.jpg"), cv2.IMREAD_GRAYSCALE)
        lines = "".join(LINE.format(k=i, x=20, y=30 + 100 * i, w=300, h=40 if i == 0 else 90,
                                    text=t) for i, t in enumerate(texts))
        (data / f"{stem}.xml").write_text(ALTO.format(img=f"{stem}.jpg", lines=lines),
                                          encoding="utf-8")
    return pages


def zip_folder(src: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    return dest


@pytest.fixture
def served(tmp_path):
    """A local HTTP server holding the release zip; yields (url, requests log, page images)."""
    site = tmp_path / "site"
    site.mkdir()
    pages = make_release(tmp_path / "release")
    zip_folder(tmp_path / "release", site / "v2.0.0.zip")
    requests: list[str] = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            requests.append(self.path)

    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v2.0.0.zip", requests, pages
    srv.shutdown()
    srv.server_close()


def poilus_cfg(tmp_path: Path, url: str, extra: list[str] = ()):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=[
            f"paths.data_dir={tmp_path}/data", f"paths.shared_data_dir={tmp_path}/shared",
            "task=dataset", "dataset=poilus", *extra])
    OmegaConf.update(cfg, "dataset.source.download", [
        {**OmegaConf.to_container(cfg.dataset.source.download[0]), "url": url}])
    OmegaConf.update(cfg, "dataset.source.options",
                     {**OmegaConf.to_container(cfg.dataset.source.options),
                      **WRITERS, "xml_digest": None}, force_add=True)
    return cfg


def test_prepare_poilus_downloads_records_sha_and_converts(served, tmp_path):
    url, requests, pages = served
    cfg = poilus_cfg(tmp_path, url, ["task.download=true"])
    result = dataset_task.run(cfg)
    out = tmp_path / "shared" / "poilus"  # dataset.root: ${paths.shared_data_dir}/poilus
    assert result["out"] == str(out)
    assert result["counts"] == {"train": 3, "valid": 1, "test": 2}
    marking = read_marking(out)
    assert [(s.sample_id, s.stage, s.text, s.extra["writer"]) for s in marking.samples] == [
        ("AD78_0005-0-000", "train", "Ceci est mon Testament", "AD78_0005"),
        ("AD78_0005-0-001", "train", "Par le présent", "AD78_0005"),
        ("AD78_0005-1-000", "train", "pour ma légataire", "AD78_0005"),
        ("AD78_0038-0-000", "test", "à ma mère", "AD78_0038"),
        ("AD78_0038-0-001", "test", "tous mes biens", "AD78_0038"),
        ("AN_0034-0-000", "valid", "je lègue", "AN_0034"),
    ]
    # crops: the TextLine box + 12 px padding, scaled down to at most 64 px high
    by_id = {s.sample_id: s for s in marking.samples}
    small = cv2.imread(str(by_id["AD78_0005-0-000"].path), cv2.IMREAD_GRAYSCALE)
    page = pages["TestamentsDePoilus_will_AD78_0005-0"]
    assert np.array_equal(small, page[30 - 12:30 + 40 + 12, 20 - 12:20 + 300 + 12])
    tall = cv2.imread(str(by_id["AD78_0005-0-001"].path), cv2.IMREAD_GRAYSCALE)
    assert tall.shape == (64, round((300 + 24) * 64 / (90 + 24)))
    # attribution and the ALTO fixture pages travel with the data
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "10.5281/zenodo.10177106" in readme
    assert "3 train / 1 valid / 2 test" in readme
    assert (out / "alto_pages" / "TestamentsDePoilus_will_AD78_0038-0.xml").is_file()
    assert (out / "alto_pages" / "TestamentsDePoilus_will_AD78_0038-0.jpg").is_file()
    assert [s["item"] for s in result["skipped"]] == ["TestamentsDePoilus_will_AD95_0001-0.xml"]
    # the SHA-256 of the first download is recorded; a changed archive is then refused
    book = tmp_path / "data" / "downloads" / "sha256_recorded.json"
    assert "CREMMA-AN-TestamentsDePoilus-2.0.0.zip" in book.read_text()
    assert len(requests) == 1


def test_a_changed_archive_is_refused_after_the_first_download(served, tmp_path):
    url, requests, _ = served
    dataset_task.run(poilus_cfg(tmp_path, url, ["task.download=true"]))
    raw = tmp_path / "data" / "raw" / "poilus"
    (raw / "CREMMA-AN-TestamentsDePoilus-2.0.0.zip").unlink()
    site_zip = tmp_path / "site" / "v2.0.0.zip"
    site_zip.write_bytes(site_zip.read_bytes() + b"changed")
    from stackmix.data.download import ChecksumMismatch

    with pytest.raises(ChecksumMismatch, match="SHA-256 mismatch"):
        dataset_task.run(poilus_cfg(tmp_path, url, ["task.download=true", "task.overwrite=true"]))


def test_without_download_the_message_names_the_switch(tmp_path):
    cfg = poilus_cfg(tmp_path, "http://127.0.0.1:9/none.zip")
    with pytest.raises(ManualDownloadRequired, match="task.download=true") as e:
        dataset_task.run(cfg)
    assert "make prepare-poilus" in str(e.value)


def test_xml_digest_guards_the_transcriptions(tmp_path):
    make_release(tmp_path / "raw")
    files = poilus.page_files(tmp_path / "raw")
    opts = {**WRITERS, "xml_digest": poilus.xml_digest(files)}
    report = convert("poilus", tmp_path / "raw", tmp_path / "ok", options=opts)
    assert report.counts["train"] == 3
    files[0].write_text(files[0].read_text(encoding="utf-8").replace("Ceci", "Cela"),
                        encoding="utf-8")
    with pytest.raises(ConversionError, match="not those of release v2.0.0"):
        convert("poilus", tmp_path / "raw", tmp_path / "bad", options=opts)


def test_a_missing_test_writer_is_an_incomplete_download(tmp_path):
    make_release(tmp_path / "raw")
    for p in (tmp_path / "raw").rglob("*AD78_0038-0.*"):
        p.unlink()
    with pytest.raises(ConversionError, match="AD78_0038.*incomplete"):
        convert("poilus", tmp_path / "raw", tmp_path / "out", options={**WRITERS,
                                                                       "xml_digest": None})


def test_default_split_is_the_shared_copy():
    assert len(poilus.VALID_WRITERS) == 14 and len(poilus.TEST_WRITERS) == 13
    assert not set(poilus.VALID_WRITERS) & set(poilus.TEST_WRITERS)
    assert len(poilus.EXCLUDED_PAGES) == 16
