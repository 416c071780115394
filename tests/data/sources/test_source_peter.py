"""Digital Peter from a tiny fake line archive (images/, words/, mapper.csv)."""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stackmix.data.sources import convert
from stackmix.data.sources.common import ConversionError

MAPPER = [  # new_name, train, public, private, text
    ("0_1_0.jpg", "True", "False", "False", "человѣкъ тритца с собою"),
    ("15_8_11.jpg", "False", "False", "True", "в тонигъ загналъ"),
    ("32_2_1.jpg", "False", "True", "False", "с воронежа пришел"),
    ("27_46_30.jpg", "", "", "", "2"),
]


def make_zip(path: Path, *, drop_words=None, rows=None) -> dict:
    files = {}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data_anon/mapper.csv", "new_name,old_name,train,public,private\n" + "".join(
            f"{n},old_{n},{t},{p},{q}\n" for n, t, p, q, _ in rows or MAPPER))
        for k, (n, _, _, _, text) in enumerate(rows or MAPPER):
            a = np.random.default_rng(k).integers(0, 256, (40, 120, 3), dtype=np.uint8)
            files[Path(n).stem] = cv2.imencode(".jpg", a)[1].tobytes()
            zf.writestr(f"data_anon/images/{n}", files[Path(n).stem])
            if Path(n).stem != drop_words:
                zf.writestr(f"data_anon/words/{Path(n).stem}.txt", text + "\n")
    return files


def test_peter(tmp_path):
    (tmp_path / "raw").mkdir()
    files = make_zip(tmp_path / "raw" / "peter_lines.zip")
    report = convert("peter", tmp_path / "raw", tmp_path / "out", options={"unassigned": "train"})
    with open(tmp_path / "out" / "marking.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["sample_id"], r["stage"], r["text"]) for r in rows] == [
        ("0_1_0", "train", "человѣкъ тритца с собою"),
        ("15_8_11", "test", "в тонигъ загналъ"),
        ("32_2_1", "valid", "с воронежа пришел"),
        ("27_46_30", "train", "2"),
    ]
    for r in rows:
        assert (tmp_path / "out" / r["path"]).read_bytes() == files[r["sample_id"]]
    assert report.skipped == []
    report = convert("peter", tmp_path / "raw", tmp_path / "out2", options={"unassigned": "skip"})
    assert [s.item for s in report.skipped] == ["27_46_30"]


def test_peter_missing_transcription_file(tmp_path):
    (tmp_path / "raw").mkdir()
    make_zip(tmp_path / "raw" / "p.zip", drop_words="32_2_1")
    with pytest.raises(ConversionError, match=r"32_2_1: missing transcription file .*32_2_1\.txt"):
        convert("peter", tmp_path / "raw", tmp_path / "out")
    assert not (tmp_path / "out").exists()



LOOKALIKE_LINES = [  # as typed in Digital Peter: Latin look-alikes, stray marks, the "ps" token
    ("1_1_1.jpg", "True", "False", "False", "ps oт князя / a ceлo ×отин"),
    ("1_1_2.jpg", "True", "False", "False", "пuсалъ kъ тебѣ … рs іван | – ǂ"),
    ("1_1_3.jpg", "False", "True", "False", "pecть"),
    ("1_1_4.jpg", "False", "False", "True", "cо"),
]


def test_peter_normalization_maps_lookalikes_into_the_alphabet(tmp_path):
    """The dataset config's normalizer turns the archive's texts into the 65-character alphabet,
    so the data module accepts the train split (it refuses characters outside the alphabet)."""
    from hydra import compose, initialize_config_module

    from stackmix import resolvers  # noqa: F401
    from stackmix.data.datamodule import HTRDataModule
    from stackmix.text import UnknownCharactersError

    (tmp_path / "raw").mkdir()
    make_zip(tmp_path / "raw" / "peter_lines.zip", rows=LOOKALIKE_LINES)
    convert("peter", tmp_path / "raw", tmp_path / "out")
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=["dataset=peter", f"dataset.root={tmp_path / 'out'}"])
    dm = HTRDataModule(cfg.dataset, cache_images=False)
    texts = {s.sample_id: s.text for st in ("train", "valid", "test") for s in dm.splits[st]}
    assert texts == {
        "1_1_1": "р s от князя а село хотин",
        "1_1_2": "писалъ къ тебѣ р s iван",
        "1_1_3": "ресть",  # Latin p -> Cyrillic р (er), as the original maps it
        "1_1_4": "со",
    }
    assert set("".join(texts.values())) <= set(cfg.dataset.alphabet)
    assert len(cfg.dataset.alphabet) == 65
    # without the mapping the train split is refused at once
    bare = dict(cfg.dataset)
    bare["normalize"] = {"unicode_form": "NFC"}
    with pytest.raises(UnknownCharactersError):
        HTRDataModule(bare, cache_images=False).splits
