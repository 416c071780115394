"""`prepare.py task=evaluate`: metrics per decoder and the report on a dataset split; its greedy
predictions are the training run's test predictions."""
import csv
import json
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from inference_fixtures import compose_prepare, tiny_dataset_overrides, tiny_run  # noqa: E402

from stackmix.cli import predict  # noqa: E402
from stackmix.data.marking import read_marking  # noqa: E402
from stackmix.tasks import evaluate  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_evaluate_task_reports_every_decoder(tiny, tmp_path, capsys):
    cfg = compose_prepare(["task=evaluate", *tiny_dataset_overrides(tiny.data),
                           f"task.ckpt={tiny.run_dir}", "task.num_workers=0",
                           "task.progress=false", "task.decoders.beam.beam_width=4",
                           "task.decoders.beam_lm.beam_width=4"], tmp_path)
    metrics = evaluate.run(cfg)
    out = tmp_path / "out" / "evaluation"
    assert set(metrics) == {"greedy", "beam", "beam_lm"}
    for m in metrics.values():
        assert m["lines"] == 8 and 0 <= m["cer"] and 0 <= m["wer"] and 0 <= m["acc"] <= 1
    # greedy decoding here = the predictions the training run wrote for its best checkpoint
    train_rows = list(csv.DictReader(tiny.predictions.open(encoding="utf-8")))
    ours = list(csv.DictReader((out / "predictions_greedy.csv").open(encoding="utf-8")))
    assert [r["sample_id"] for r in ours] == [r["sample_id"] for r in train_rows]
    assert [r["prediction"] for r in ours] == [r["prediction"] for r in train_rows]
    train_metrics = json.loads((tiny.run_dir / "metrics.json").read_text())
    assert metrics["greedy"]["cer"] == pytest.approx(train_metrics["test/cer"], abs=1e-6)
    for name in ("report.md", "report.html", "confusions.csv", "metrics.json",
                 "predictions_beam.csv", "predictions_beam_lm.csv"):
        assert (out / name).is_file(), name
    printed = capsys.readouterr().out
    assert "beam_lm" in printed and "CER" in printed


def test_evaluate_tunes_a_decoder_on_valid_then_scores_test_with_it(tiny, tmp_path, capsys):
    """task.tune.split=valid: beam_lm's settings are chosen on the valid lines, the test split is
    decoded with them, and the report records what was tried; tuning on the split being scored
    is refused."""
    common = ["task=evaluate", *tiny_dataset_overrides(tiny.data), f"task.ckpt={tiny.run_dir}",
              "task.num_workers=0", "task.progress=false", "task.decoders.beam.beam_width=4",
              "task.decoders.beam_lm.beam_width=4", "task.tune.split=valid",
              "task.tune.grid.alpha=[0.0,2.0]", "task.tune.grid.beta=[0.0,3.0]"]
    metrics = evaluate.run(compose_prepare(common, tmp_path))
    report = json.loads((tmp_path / "out" / "evaluation" / "metrics.json").read_text())
    tuned = report["info"]["tuned"]
    assert tuned["decoder"] == "beam_lm" and tuned["split"] == "valid" and len(tuned["tried"]) == 8
    best = min(tuned["tried"], key=lambda r: r["cer"])
    assert tuned["chosen"] == {k: best[k] for k in ("alpha", "beta", "lm.order")}
    used = report["info"]["decoders"]["beam_lm"]
    assert (used["alpha"], used["beta"], used["lm"]["order"]) == \
        (best["alpha"], best["beta"], best["lm.order"])
    assert metrics["beam_lm"]["lines"] == 8
    assert "beam_lm settings tried on valid (8 lines)" in capsys.readouterr().out
    # the tuned decoder, its "@train" LM written beside it, decodes new lines with predict.py
    # exactly as the evaluation did
    folder = tmp_path / "out" / "evaluation"
    saved = OmegaConf.load(folder / "decoder" / "eval_beam_lm.yaml")
    assert (saved.alpha, saved.beta, saved.lm.order) == (used["alpha"], used["beta"],
                                                          used["lm"]["order"])
    assert saved.lm.corpus == str((folder / "train_texts.txt").resolve())
    train = [s.text for s in read_marking(tiny.data).stage("train")]
    assert (folder / "train_texts.txt").read_text(encoding="utf-8").splitlines() == train
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("predict", overrides=[f"hydra.searchpath=[file://{folder}]",
                                            "decoder=eval_beam_lm", f"ckpt={tiny.run_dir}",
                                            f"input=[{','.join(map(str, tiny.test_images))}]",
                                            "num_workers=0",
                                            "progress=false"])
    by_path = {Path(r["path"]).name: r["text"] for r in predict.run(cfg)}
    evaluated = list(csv.DictReader((folder / "predictions_beam_lm.csv").open(encoding="utf-8")))
    assert {Path(r["path"]).name: r["prediction"] for r in evaluated} == by_path
    with pytest.raises(SystemExit, match="is the split being evaluated"):
        evaluate.run(compose_prepare(common + ["task.split=valid"], tmp_path / "b"))
    with pytest.raises(SystemExit, match="'alpah' is not a setting"):
        evaluate.run(compose_prepare(common + ["+task.tune.grid.alpah=[1.0]"], tmp_path / "c"))


def test_train_limit_gives_the_lm_the_subset_texts(tiny, tmp_path, monkeypatch):
    """With dataset.train_limit the "@train" LM is estimated on the subset the model was trained
    on, not on every train line of the dataset (a small collection has only those)."""
    import stackmix.inference.decoder_factory as factory
    from stackmix.data.marking import read_marking
    from stackmix.data.splits import limit_train

    seen = []
    real = factory.build_decoder
    monkeypatch.setattr(factory, "build_decoder",
                        lambda c, a, train_texts=None: seen.append(train_texts) or real(c, a, train_texts))
    evaluate.run(compose_prepare(["task=evaluate", *tiny_dataset_overrides(tiny.data),
                                  f"task.ckpt={tiny.run_dir}", "task.num_workers=0",
                                  "task.progress=false", "dataset.train_limit=5", "seed=3",
                                  "task.decoders.beam.beam_width=4",
                                  "task.decoders.beam_lm.beam_width=4"], tmp_path))
    subset = [s.text for s in limit_train(read_marking(tiny.data).stage("train"),
                                          {"train_limit": 5}, 3)]
    assert seen and all(t == subset for t in seen)


def test_training_run_ends_with_an_evaluation_report(tiny):
    report = tiny.run_dir / "evaluation"
    assert (report / "report.md").is_file() and (report / "report.html").is_file()
    rows = list(csv.DictReader((report / "predictions_greedy.csv").open(encoding="utf-8")))
    assert len(rows) == 8
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in rows)
    assert all(0.0 <= float(p) <= 1.0 for r in rows for p in r["char_confidences"].split())
