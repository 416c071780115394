"""The CPU recipe (experiment=cpu) gets a 30-line dataset out of CTC's all-blank phase quickly."""
import pytest

from conftest import compose_train, make_dataset


def _recipe(root, tmp_path, steps):
    return compose_train([
        "experiment=cpu", "dataset=custom", f"dataset.root={root}",
        # the recipe's schedule, optimizer and batch size; short lines and a narrower network so
        # that CI runs it in well under a minute
        "dataset.image_h=32", "dataset.image_w=128", "model.net.time_steps=32",
        "model.net.lstm_hidden=64", "model.net.time_feature_count=64", "model.net.lstm_layers=1",
        "trainer.max_time=null", f"trainer.max_steps={steps}", f"trainer.val_check_interval={max(steps // 2, 1)}",
        "trainer.enable_model_summary=false",
        "data.num_workers=0", "logger=csv", "threads=null",
    ], tmp_path)


@pytest.mark.parametrize("steps", [400])
def test_thirty_lines_leave_the_all_blank_phase(tmp_path, steps):
    from stackmix.cli.train import run

    root = make_dataset(tmp_path / "d30", counts=(30, 8, 8))
    metrics = run(_recipe(root, tmp_path, steps))
    assert metrics["all_blank"] is False
    assert metrics["counts"]["train"] == 30
    # it reads: a good part of the test characters right after a few hundred steps
    assert metrics["test/cer"] < 0.8


def test_a_run_that_stops_in_the_blank_phase_says_so(tmp_path, caplog):
    from stackmix.cli.train import run

    root = make_dataset(tmp_path / "d30", counts=(30, 8, 8))
    with caplog.at_level("WARNING", logger="stackmix.train"):
        metrics = run(_recipe(root, tmp_path, 40))  # validated after steps 20 and 40
    assert metrics["all_blank"] is True
    assert "has not left CTC's all-blank phase" in caplog.text


def test_early_stopping_option_stops_on_validation_cer(tmp_path):
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import EarlyStopping

    cfg = compose_train(["callbacks=early_stopping", "callbacks.early_stopping.patience=3"], tmp_path)
    cb = instantiate(cfg.callbacks.early_stopping)
    assert isinstance(cb, EarlyStopping)
    assert (cb.monitor, cb.mode, cb.patience) == ("val/cer", "min", 3)
    assert "model_checkpoint" in cfg.callbacks  # the default callbacks stay
    assert "early_stopping" not in compose_train([], tmp_path).callbacks


def test_the_recipe_regularizes_with_dropout_half(tmp_path):
    """experiment=cpu builds its network with dropout 0.5 between the BiLSTM layers and in the
    head (the paper network: 0.1); measured in README "Training on a CPU"."""
    import torch
    from hydra.utils import instantiate

    net = instantiate(compose_train(["experiment=cpu"], tmp_path).model.net, num_classes=10)
    lstms = [m for m in net.modules() if isinstance(m, torch.nn.LSTM)]
    drops = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert lstms and all(m.dropout == 0.5 for m in lstms if m.num_layers > 1)
    assert drops and all(m.p == 0.5 for m in drops)
