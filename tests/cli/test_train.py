"""End to end: `python train.py` trains a few steps, tests the best checkpoint, writes reports."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import REPO, tiny_train_overrides


@pytest.mark.slow
def test_train_cli_writes_predictions_metrics_and_curves(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, str(REPO / "train.py"), *tiny_train_overrides(tiny_dataset),
           f"hydra.run.dir={out}", f"paths.cache_dir={tmp_path}/cache"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "test CER" in proc.stdout  # the summary table

    rows = list(csv.DictReader((out / "predictions_test.csv").open(encoding="utf-8")))
    assert [r["sample_id"] for r in rows] == [f"s{i:04d}" for i in range(32, 40)]
    assert set(rows[0]) == {"sample_id", "text", "prediction", "cer"}
    assert all(0 <= float(r["cer"]) for r in rows)

    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test/cer", "test/wer", "test/acc", "best_val_cer", "best_checkpoint"):
        assert key in metrics, key
    assert metrics["counts"] == {"train": 24, "valid": 8, "test": 8}
    assert (out / "curves.png").stat().st_size > 1000
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "csv" / "metrics.csv").is_file()
    # the whole composed config is logged as the run's hyperparameters
    hparams = yaml.safe_load((out / "csv" / "hparams.yaml").read_text(encoding="utf-8"))
    assert hparams["dataset"]["root"] == str(tiny_dataset) and hparams["seed"] == 42
    assert hparams["aug"]["name"] == "none" and hparams["data"]["batch_size"] == 8
    # a fresh run folder: no misleading "last checkpoint" warnings from Lightning
    assert "was called without a model" not in proc.stderr
    assert "no last checkpoint available" not in proc.stderr

    # the checkpoint carries what inference needs and loads without pickled objects
    ckpt = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    hp = ckpt["hyper_parameters"]
    assert hp["image_h"] == 32 and hp["image_w"] == 128
    assert set(hp["alphabet"]) == set("abcdef ")  # derived from the train split
    assert hp["normalize"]["collapse_whitespace"] is True


def test_history_rows_hold_their_own_epoch_cer(tiny_dataset, tmp_path):
    import lightning as L
    from hydra.utils import instantiate

    from conftest import compose_train
    from stackmix.report import TrainingHistory

    cfg = compose_train(tiny_train_overrides(tiny_dataset), tmp_path)
    dm = instantiate(cfg.data, dataset=cfg.dataset, aug=cfg.aug, _recursive_=False)
    module = instantiate(cfg.model, alphabet=dm.codec.alphabet, image_h=32, image_w=128,
                         _recursive_=False)
    hist = TrainingHistory()
    seen = []

    class Spy(L.Callback):
        def on_validation_end(self, trainer, pl_module):
            if not trainer.sanity_checking:
                seen.append(float(trainer.callback_metrics["val/cer"]))

    L.Trainer(accelerator="cpu", max_epochs=3, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
              num_sanity_val_steps=0, callbacks=[hist, Spy()]).fit(module, datamodule=dm)
    assert [e["epoch"] for e in hist.epochs] == [0, 1, 2]
    assert [e["val/cer"] for e in hist.epochs] == seen
