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
                           f"out={out}", "num_workers=0", "decoder.type=beam",
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
