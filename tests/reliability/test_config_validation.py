"""Values of the wrong type or out of range stop train.py at composition, before any data is read,
with a message naming the key (issue 15, item 11)."""
import subprocess
import sys

import pytest

from conftest import REPO, compose_train
from stackmix.conf.checks import ConfigError, check_train


@pytest.mark.parametrize("overrides, message", [
    (["seed=abc"], "seed='abc' is not an integer"),
    (["data.batch_size=0"], "data.batch_size=0 must be at least 1"),
    (["data.num_workers=-1"], "data.num_workers=-1 must be at least 0"),
    (["aug.warmup_steps=-5"], "aug.warmup_steps=-5 must be at least 0"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 must be at least 1"),
    (["dataset.on_bad_row=ignore"], "dataset.on_bad_row='ignore': expected raise or skip"),
    (["dataset.fit=stretch"], "dataset.fit='stretch': expected height or paper"),
    (["dataset=custom"], "dataset=custom needs the folder of a prepared dataset: add dataset.root="),
])
def test_bad_values_are_refused_with_the_key(overrides, message, tmp_path):
    cfg = compose_train(overrides, tmp_path)
    with pytest.raises(ConfigError, match="invalid configuration") as info:
        check_train(cfg)
    assert message in str(info.value)


def test_every_problem_is_listed_at_once(tmp_path):
    cfg = compose_train(["seed=x", "data.batch_size=0", "dataset=custom"], tmp_path)
    with pytest.raises(ConfigError) as info:
        check_train(cfg)
    assert str(info.value).count("\n  ") == 3


def test_the_default_config_passes(tiny_dataset, tmp_path):
    check_train(compose_train([], tmp_path))  # synthetic: generated on first use
    check_train(compose_train(["dataset=custom", f"dataset.root={tiny_dataset}"], tmp_path))


@pytest.mark.parametrize("dataset, command", [
    ("iam", "make prepare-iam"),
    ("poilus", "make prepare-poilus"),
    ("custom", "python prepare.py task=import"),
])
def test_missing_data_names_the_command_that_prepares_it(dataset, command, tmp_path):
    cfg = compose_train([f"dataset={dataset}", f"dataset.root={tmp_path}/absent"], tmp_path)
    with pytest.raises(ConfigError) as info:
        check_train(cfg)
    assert f"no prepared dataset at {tmp_path}/absent" in str(info.value)
    assert command in str(info.value)


@pytest.mark.parametrize("override, words", [
    ("trainer.max_epochs=abc", ["trainer.max_epochs", "could not be converted to Integer"]),
    ("dataset=custom", ["dataset.root=/path/to/folder"]),
])
def test_train_cli_stops_before_loading_data(override, words, tmp_path):
    cmd = [sys.executable, str(REPO / "train.py"), override, f"hydra.run.dir={tmp_path}/run",
           f"paths.cache_dir={tmp_path}/cache"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode != 0
    for w in words:
        assert w in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "cache").exists()  # no data was generated, read or cached
