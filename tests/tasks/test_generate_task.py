import sys
from pathlib import Path

import cv2
import pytest
from hydra import compose, initialize_config_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mix"))
from stackmix_fixtures import make_bank  # noqa: E402

from stackmix.tasks import generate  # noqa: E402


def _cfg(tmp_path, bank, *extra):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=[
            "task=generate", "dataset=custom", f"dataset.root={tmp_path}/data",
            f"task.bank={bank}", f"paths.output_dir={tmp_path}", *extra])


def test_text_to_handwriting_png(tmp_path):
    bank, _ = make_bank(tmp_path, height=32)
    out = generate.run(_cfg(tmp_path, bank, "task.text='bead  face cab'", "task.count=2",
                            f"task.out={tmp_path}/hw.png"))
    assert out["text"] == "bead face cab"  # normalized like the dataset
    img = cv2.imread(str(tmp_path / "hw.png"), cv2.IMREAD_GRAYSCALE)
    assert img.shape == tuple(out["shape"]) and img.shape[0] > 2 * 32
    wrapped = generate.run(_cfg(tmp_path, bank, "task.text='bead face cab bad'", "task.count=1",
                                "task.wrap=9", f"task.out={tmp_path}/w.png"))
    assert wrapped["shape"][0] > 2 * 32  # two lines


def test_unknown_characters_are_listed(tmp_path):
    bank, _ = make_bank(tmp_path)
    with pytest.raises(generate.UnknownTextError) as e:
        generate.run(_cfg(tmp_path, bank, "task.text='bad Zebra!'"))
    msg = str(e.value)
    for c in ["'Z'", "'r'", "'!'", "U+005A"]:
        assert c in msg
    assert "It can write these" in msg
    assert not (tmp_path / "handwriting.png").exists()


def test_missing_bank(tmp_path):
    with pytest.raises(SystemExit, match="task=char_masks"):
        generate.run(_cfg(tmp_path, tmp_path / "none" / "bank", "task.text=abc"))
