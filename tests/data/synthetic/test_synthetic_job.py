"""Generating the synthetic dataset (stackmix.data.synthetic.job): determinism, font splits,
marking, char extents, caching of the folder."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data import synthetic as syn
from stackmix.data.marking import read_marking
from stackmix.data.synthetic import job

SMALL = dict(n_train=16, n_valid=6, n_test=8, seed=3)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("syn") / "synthetic"
    return syn.ensure_synthetic(root, workers=0, progress=False, **SMALL)


def _images(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / syn.LINES_DIR).glob("*.png"))}


def test_layout_and_marking(small: Path) -> None:
    m = read_marking(small)
    assert m.counts() == {"train": 16, "valid": 6, "test": 8}
    assert m.columns == ("sample_id", "path", "stage", "text", "font")
    for s in m.samples:
        assert s.path.relative_to(small).parts[0] == syn.LINES_DIR
        img = cv2.imread(str(s.path), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.ndim == 2
        assert 30 <= img.shape[0] <= 120 and img.shape[1] > img.shape[0]
        assert 1 <= len(s.text) <= 32 and s.text == s.text.strip() and "  " not in s.text
    stamp = json.loads((small / syn.PARAMS_FILE).read_text())
    assert stamp["format_version"] == syn.FORMAT_VERSION
    assert stamp["params"] == syn.synthetic_params(**SMALL)


def test_splits_are_by_font(small: Path) -> None:
    m = read_marking(small)
    fonts = {st: {s.extra["font"] for s in m.stage(st)} for st in ("train", "valid", "test")}
    for st, used in fonts.items():
        assert used <= set(syn.DEFAULT_FONTS[st])
    assert not fonts["test"] & (fonts["train"] | fonts["valid"])
    assert not fonts["valid"] & fonts["train"]


def test_same_seed_same_data_any_worker_count(small: Path, tmp_path: Path) -> None:
    again = syn.generate_synthetic(tmp_path / "again", workers=2, progress=False, **SMALL)
    assert (again / "marking.csv").read_bytes() == (small / "marking.csv").read_bytes()
    assert (again / syn.EXTENTS_FILE).read_bytes() == (small / syn.EXTENTS_FILE).read_bytes()
    assert _images(again) == _images(small)


def test_different_seed_different_data() -> None:
    params = syn.synthetic_params(**SMALL)
    other = params | {"seed": params["seed"] + 1}
    a = [syn.make_line(params, "train", i) for i in range(4)]
    b = [syn.make_line(other, "train", i) for i in range(4)]
    assert [t for t, _, _ in a] != [t for t, _, _ in b]
    assert not np.array_equal(a[0][2].image, b[0][2].image)


def test_char_extents(small: Path) -> None:
    extents = json.loads((small / syn.EXTENTS_FILE).read_text())
    m = read_marking(small)
    assert set(extents) == {s.sample_id for s in m.samples}
    for s in m.samples:
        ext = np.asarray(extents[s.sample_id])
        img = cv2.imread(str(s.path), cv2.IMREAD_GRAYSCALE)
        assert ext.shape == (len(s.text), 2)
        assert (ext[:, 0] >= 0).all() and (ext[:, 1] <= img.shape[1]).all()
        assert (ext[:, 0] <= ext[:, 1]).all()
        assert (np.diff(ext[:, 0]) >= 0).all() and (np.diff(ext[:, 1]) >= 0).all()
        # ink: darker than the paper (the median of the image) by a clear margin
        paper = float(np.median(img))
        dark = (img < paper - 50).any(axis=0)
        for ch, (x0, x1) in zip(s.text, ext):
            if not ch.isspace():
                assert x1 > x0 and dark[x0:x1].any(), (s.sample_id, ch, x0, x1)
        # every ink column lies within 2 px (blur) of some non-space character's extent
        covered = np.zeros(img.shape[1], bool)
        for ch, (x0, x1) in zip(s.text, ext):
            if not ch.isspace():
                covered[max(0, x0 - 2):x1 + 2] = True
        assert not (dark & ~covered).any(), s.sample_id


def test_cache_reused_and_param_change_regenerates(small: Path) -> None:
    stamp = small / syn.PARAMS_FILE
    before = stamp.stat().st_mtime_ns
    assert syn.ensure_synthetic(small, workers=0, progress=False, **SMALL) == small
    assert stamp.stat().st_mtime_ns == before


def test_param_change_regenerates(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    params = dict(n_train=3, n_valid=2, n_test=2)
    syn.ensure_synthetic(root, workers=0, progress=False, **params)
    first = read_marking(root).counts()
    syn.ensure_synthetic(root, workers=0, progress=False, **(params | {"n_train": 4}))
    assert first["train"] == 3 and read_marking(root).counts()["train"] == 4
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["ds"]


def test_interrupted_generation_leaves_nothing_trusted(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "ds"
    real = job._run_job
    calls = {"n": 0}

    def failing(job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(job)

    monkeypatch.setattr(job, "_run_job", failing)
    params = dict(n_train=3, n_valid=2, n_test=2)
    with pytest.raises(KeyboardInterrupt):
        syn.ensure_synthetic(root, workers=0, progress=False, **params)
    assert not root.exists()
    assert not [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    # a stale temporary folder (as a SIGKILL would leave) is never trusted and gets cleaned
    stale = tmp_path / ".ds.tmp-123-dead"
    (stale / syn.LINES_DIR).mkdir(parents=True)
    monkeypatch.setattr(job, "_run_job", real)
    syn.ensure_synthetic(root, workers=0, progress=False, **params)
    assert syn.is_complete(root, syn.synthetic_params(**params)) and not stale.exists()


def test_incomplete_folder_is_replaced(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / syn.LINES_DIR).mkdir(parents=True)
    (root / "marking.csv").write_text("sample_id,path,stage,text\n")
    params = dict(n_train=2, n_valid=1, n_test=1)
    syn.ensure_synthetic(root, workers=0, progress=False, **params)
    assert read_marking(root).counts() == {"train": 2, "valid": 1, "test": 1}
