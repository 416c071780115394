"""`prepare.py task=dataset` and `task=import` through composed Hydra configs (and once via the CLI)."""
from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_module

from stackmix import resolvers  # noqa: F401
from stackmix.data.download import ManualDownloadRequired
from stackmix.data.marking import read_marking
from stackmix.tasks import dataset as dataset_task

REPO = Path(__file__).resolve().parents[2]
DATASETS = ["bentham", "peter", "hkr", "iam", "saintgall", "washington", "iam_tbluche",
            "schwerin", "konzil", "patzig", "ricordi", "schiller"]


def make_washington(raw: Path) -> None:
    root = raw / "washingtondb-v1.0"
    (root / "ground_truth").mkdir(parents=True)
    rows = {"270-01": "L-e-t-t-e-r-s-s_cm", "270-02": "O-r-d-e-r-s", "271-01": "s_GW",
            "272-01": "B-o-s-t-o-n"}
    (root / "ground_truth" / "transcription.txt").write_text(
        "".join(f"{k} {v}\n" for k, v in rows.items()))
    for cv, (tr, va, te) in {"cv1": (["270-01", "270-02"], ["271-01"], ["272-01"]),
                             "cv2": (["272-01"], ["270-01"], ["271-01"])}.items():
        d = root / "sets" / cv
        d.mkdir(parents=True)
        for name, ids in (("train", tr), ("valid", va), ("test", te)):
            (d / f"{name}.txt").write_text("\n".join(ids) + "\n")
    img_dir = root / "data" / "line_images_normalized"
    img_dir.mkdir(parents=True)
    for k, lid in enumerate(rows):
        cv2.imwrite(str(img_dir / f"{lid}.png"),
                    np.random.default_rng(k).integers(0, 256, (12, 30), dtype=np.uint8))


def cfg_for(overrides: list[str], tmp_path: Path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=[f"paths.data_dir={tmp_path}/data", *overrides])


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_config_composes(name, tmp_path):
    cfg = cfg_for(["task=dataset", f"dataset={name}"], tmp_path)
    assert cfg.dataset.name == name and cfg.dataset.image_h == 128 and cfg.dataset.image_w == 2048
    assert cfg.dataset.root == f"{tmp_path}/data/{name}"
    assert cfg.dataset.source.converter == name
    importlib.import_module(f"stackmix.data.sources.{name}").iter_items  # noqa: B018
    if cfg.dataset.alphabet is not None:
        a = cfg.dataset.alphabet
        assert len(set(a)) == len(a) and "".join(sorted(a)) == a


def test_dataset_task_converts_keeps_and_rebuilds(tmp_path):
    make_washington(tmp_path / "raw")
    out = tmp_path / "prepared"
    cfg = cfg_for(["task=dataset", "dataset=washington", f"raw={tmp_path}/raw", f"out={out}"],
                  tmp_path)
    result = dataset_task.run(cfg)
    assert result["counts"] == {"train": 2, "valid": 1, "test": 1}
    assert result["alphabet"] == ",LOderst"
    texts = [s.text for s in read_marking(out).samples]
    assert texts == ["Letters,", "Orders", "G.W.", "Boston"]
    # the config's alphabet lacks nothing here
    assert result["outside_config_alphabet"] == ""
    # already prepared: kept and reported
    again = dataset_task.run(cfg)
    assert again["rebuilt"] is False and again["counts"] == result["counts"]
    # rebuilt with another fold through task.options
    cfg = cfg_for(["task=dataset", "dataset=washington", f"task.raw={tmp_path}/raw",
                   f"task.out={out}", "task.overwrite=true", "task.options.cv=cv2"], tmp_path)
    assert dataset_task.run(cfg)["counts"] == {"train": 1, "valid": 1, "test": 1}


def test_default_out_is_dataset_root(tmp_path):
    make_washington(tmp_path / "data" / "raw" / "washington")
    cfg = cfg_for(["task=dataset", "dataset=washington"], tmp_path)
    dataset_task.run(cfg)
    assert (tmp_path / "data" / "washington" / "marking.csv").is_file()


def test_login_source_without_files_says_where_to_register(tmp_path):
    cfg = cfg_for(["task=dataset", "dataset=iam"], tmp_path)
    with pytest.raises(ManualDownloadRequired) as e:
        dataset_task.run(cfg)
    msg = str(e.value)
    assert "fki.tic.heia-fr.ch" in msg and "lines.tgz" in msg
    assert str(tmp_path / "data" / "raw" / "iam") in msg
    assert not (tmp_path / "data" / "iam").exists()
    with pytest.raises(ManualDownloadRequired):  # download=true cannot help behind a login
        dataset_task.run(cfg_for(["task=dataset", "dataset=iam", "task.download=true"], tmp_path))


def _original_archive(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tf:
        rows = "sample_id,path,stage,text\n"
        for k, st in enumerate(["train", "valid", "test"]):
            data = cv2.imencode(".png", np.full((10, 20), 30 * k, np.uint8))[1].tobytes()
            info = tarfile.TarInfo(f"washington/images/{k}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            rows += f"{k},washington/images/{k}.png,{st},line {k}\n"
        info = tarfile.TarInfo("washington/marking.csv")
        info.size = len(rows)
        tf.addfile(info, io.BytesIO(rows.encode()))


def test_original_archive_download_records_checksum(tmp_path, monkeypatch):
    src = tmp_path / "served" / "washington.tar.gz"
    src.parent.mkdir()
    _original_archive(src)
    monkeypatch.setattr(dataset_task, "gdrive_url", lambda file_id: src.as_uri())
    cfg = cfg_for(["task=dataset", "dataset=washington", "task.source=original_archive",
                   "task.download=true"], tmp_path)
    result = dataset_task.run(cfg)
    assert result["counts"] == {"train": 1, "valid": 1, "test": 1}
    book = tmp_path / "data" / "downloads" / "sha256_recorded.json"
    assert "washington.tar.gz" in book.read_text()
    # without download=true and without the archive: a clear message
    cfg = cfg_for(["task=dataset", "dataset=hkr", "task.source=original_archive"], tmp_path)
    with pytest.raises(SystemExit, match="task.download=true"):
        dataset_task.run(cfg)


def test_fetch_public_files_uses_file_urls(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "train.txt").write_text("a01-000u-00\n")
    source = {"download": [{"name": "IAM-B/train.txt", "url": (served / "train.txt").as_uri(),
                            "sha256": None}]}
    got = dataset_task.fetch_public_files(source, tmp_path / "raw", tmp_path / "dl")
    assert got == [tmp_path / "raw" / "IAM-B" / "train.txt"]
    assert (tmp_path / "dl" / "sha256_recorded.json").is_file()


def test_import_task(tmp_path):
    folder = tmp_path / "lines"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"{k}.png"), np.full((10, 30), 100 + k, np.uint8))
        (folder / f"{k}.gt.txt").write_text(f"line {k}")
    mod = importlib.import_module("stackmix.tasks.import_data")
    cfg = cfg_for(["task=import", "format=gt_txt", f"input={folder}", f"out={tmp_path}/mine",
                   "split=none", "task.stage=test"], tmp_path)
    assert mod.run(cfg)["counts"] == {"train": 0, "valid": 0, "test": 3}
    cfg = cfg_for(["task=import", "format=gt_txt", f"out={tmp_path}/x"], tmp_path)
    with pytest.raises(SystemExit, match="missing input=..."):
        mod.run(cfg)


def test_cli_prepare_dataset(tmp_path):
    make_washington(tmp_path / "raw")
    proc = subprocess.run(
        [sys.executable, "prepare.py", "task=dataset", "dataset=washington",
         f"raw={tmp_path}/raw", f"out={tmp_path}/out", f"paths.data_dir={tmp_path}/data",
         f"hydra.run.dir={tmp_path}/run"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(read_marking(tmp_path / "out").samples) == 4
    assert (proc.stdout + proc.stderr).count("prepared 'washington'") == 1  # printed once


def test_missing_line_images_stop_without_download_instructions(tmp_path):
    make_washington(tmp_path / "raw")
    for lid in ("270-02", "271-01"):
        (tmp_path / "raw" / "washingtondb-v1.0" / "data" / "line_images_normalized"
         / f"{lid}.png").unlink()
    cfg = cfg_for(["task=dataset", "dataset=washington", f"raw={tmp_path}/raw",
                   f"out={tmp_path}/out"], tmp_path)
    from stackmix.data.sources.common import MissingLineFiles

    with pytest.raises(MissingLineFiles) as e:
        dataset_task.run(cfg)
    msg = str(e.value)
    assert "270-02: missing line image" in msg and "task.options.strict=false" in msg
    assert "How to get the raw data" not in msg and "Register" not in msg
    assert not (tmp_path / "out").exists()


def test_import_task_alto_with_images_folder_and_group_split(tmp_path):
    """The options as the README writes them: images=, split=group task.group_pattern=..."""
    alto = ('<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description>'
            '<sourceImageInformation><fileName>{img}</fileName></sourceImageInformation>'
            '</Description><Layout><Page WIDTH="60" HEIGHT="40"><PrintSpace><TextBlock>'
            '<TextLine ID="l" HPOS="5" VPOS="5" WIDTH="40" HEIGHT="20"><String CONTENT="{t}"/>'
            '</TextLine></TextBlock></PrintSpace></Page></Layout></alto>')
    (tmp_path / "alto").mkdir()
    (tmp_path / "scans").mkdir()
    for k in range(12):
        stem = f"letter{k // 3}-{k % 3}"
        (tmp_path / "alto" / f"{stem}.xml").write_text(alto.format(img=f"{stem}.jpg", t=stem))
        cv2.imwrite(str(tmp_path / "scans" / f"{stem}.jpg"), np.full((40, 60), 9 * k, np.uint8))
    mod = importlib.import_module("stackmix.tasks.import_data")
    cfg = cfg_for(["task=import", "format=alto", f"input={tmp_path}/alto", f"out={tmp_path}/o",
                   f"images={tmp_path}/scans", "split=group",
                   r"task.group_pattern='^(letter\d+)-\d+$'"], tmp_path)
    result = mod.run(cfg)
    assert sum(result["counts"].values()) == 12 and result["skipped"] == []
    stages: dict[str, set] = {}
    for s in read_marking(tmp_path / "o").samples:
        stages.setdefault(s.extra["group"], set()).add(s.stage)
    assert len(stages) == 4 and all(len(v) == 1 for v in stages.values())
