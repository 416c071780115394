"""The command line as a user meets it: help, expected errors as one paragraph, sweeps, options."""
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from conftest import REPO, cli, compose_train, make_dataset, tiny_train_overrides
from stackmix.cli import train as train_cli

CONF = REPO / "stackmix" / "conf"


# --------------------------------------------------------------------------- help
def test_train_help_does_not_import_lightning_or_torch(tmp_path):
    # `python train.py --help` must answer in about a second: nothing heavy before parsing
    proc = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "train.py"), "--help"],
                          capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "hydra" in imported
    assert not {"torch", "lightning", "albumentations", "cv2"} & imported
    for group in ("dataset", "aug", "model", "trainer", "logger", "hparams_search"):
        assert f"{group}:" in proc.stdout, group
    assert "schema" not in proc.stdout


def test_prepare_help_lists_the_tasks_and_a_missing_task_says_which_exist(tmp_path):
    proc = cli("prepare.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tasks = {p.stem for p in (CONF / "task").glob("*.yaml")} - {"stackmix"}  # the old name
    for name in tasks:
        assert f"  {name} " in proc.stdout, name
    proc = cli("prepare.py", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "task=<name>" in proc.stderr and "token_bank" in proc.stderr


def test_predict_help_lists_only_predict_options(tmp_path):
    proc = cli("predict.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ckpt: ???" in proc.stdout and "decoder:" in proc.stdout
    for other in ("dataset:", "aug:", "trainer:", "task:", "Configuration groups"):
        assert other not in proc.stdout, other


# --------------------------------------------------------------------------- expected errors
def test_missing_data_is_one_paragraph_with_the_prepare_command(tmp_path):
    proc = cli("train.py", "dataset=iam", f"paths.data_dir={tmp_path}/data",
               f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "make prepare-iam" in proc.stderr and f"{tmp_path}/data/iam" in proc.stderr
    full = cli("train.py", "dataset=iam", f"paths.data_dir={tmp_path}/data",
               f"hydra.run.dir={tmp_path}/run", cwd=tmp_path, HYDRA_FULL_ERROR="1")
    assert "Traceback" in full.stderr  # the traceback stays reachable


def test_manual_download_is_a_message_not_a_traceback(tmp_path):
    proc = cli("prepare.py", "task=dataset", "dataset=iam", f"paths.data_dir={tmp_path}/data",
               f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "prepare.py: error:" in proc.stderr and "fki.tic.heia-fr.ch" in proc.stderr


def test_missing_bank_is_a_message(tmp_path, capsys):
    data = make_dataset(tmp_path / "d")
    cfg = compose_train(tiny_train_overrides(data) + ["aug=stackmix"], tmp_path)
    with pytest.raises(SystemExit) as info:
        train_cli.main(cfg)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "train.py: error: StackMix token bank not found" in err and "task=char_masks" in err


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(cfg):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(train_cli, "run", broken)
    with pytest.raises(ZeroDivisionError):
        train_cli.main(compose_train([], tmp_path))


# --------------------------------------------------------------------------- sweeps
def test_sweepers_get_the_best_validation_cer_not_the_test_cer(monkeypatch, tmp_path):
    monkeypatch.setattr(train_cli, "run", lambda cfg: {"best_val_cer": 0.21, "test/cer": 0.13})
    assert train_cli.main(compose_train([], tmp_path)) == 0.21


def test_multirun_folders_are_named_by_every_swept_value(tmp_path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=["aug=blots", "seed=3", "trainer.devices=2"],
                      return_hydra_config=True)
    assert cfg.hydra.job.override_dirname == "aug=blots,seed=3"  # trainer.devices: left out


def test_optuna_search_composes_and_minimizes_the_validation_cer(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=optuna", f"paths.output_dir={tmp_path}"],
                      return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "minimize"
    assert "model.optimizer.lr" in sweeper.params and cfg.hydra.mode.name == "MULTIRUN"


def test_tensorboard_logger_instantiates(tmp_path):
    pytest.importorskip("tensorboard")
    from hydra.utils import instantiate

    cfg = compose_train(["logger=tensorboard"], tmp_path)
    assert set(cfg.logger) == {"csv", "tensorboard"}
    logger = instantiate(cfg.logger.tensorboard)
    logger.log_hyperparams(OmegaConf.to_container(cfg.dataset, resolve=True))


# --------------------------------------------------------------------------- run folders
def test_a_used_run_folder_is_refused_without_resume(tmp_path):
    from stackmix.conf.checks import ConfigError

    data = make_dataset(tmp_path / "d")
    run_dir = tmp_path / "out"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"an earlier run")
    cfg = compose_train(tiny_train_overrides(data), tmp_path)
    assert cfg.paths.output_dir == str(run_dir)
    with pytest.raises(ConfigError, match="resume=auto"):
        train_cli.run(cfg)


# --------------------------------------------------------------------------- documented options
@pytest.mark.parametrize("option, expected", [
    ("task.options.strict=false", {"strict": False}),
    ("task.options.unlisted=skip", {"unlisted": "skip"}),
    ("task.options.xml_digest=null", {"xml_digest": None}),
    ("task.options.exclude_pages=[]", {"exclude_pages": []}),
])
def test_converter_options_named_in_readme_and_messages_compose(option, expected, tmp_path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=dataset", "dataset=iam", option,
                                            f"paths.output_dir={tmp_path}"])
    given = {k: cfg.task.options[k] for k in cfg.task.options
             if not OmegaConf.is_missing(cfg.task.options, k)}
    assert OmegaConf.to_container(OmegaConf.create(given)) == expected


def test_every_converter_option_can_be_given():
    import re

    from stackmix.conf.schema import ConverterOptions

    known = set(OmegaConf.structured(ConverterOptions))
    used = set()
    for src in (REPO / "stackmix" / "data" / "sources").glob("*.py"):
        used |= set(re.findall(r"options\.get\(\"(\w+)\"", src.read_text(encoding="utf-8")))
    for ds in (CONF / "dataset").glob("*.yaml"):
        used |= set((OmegaConf.load(ds).get("source") or {}).get("options") or {})
    assert used - {"name"} <= known, sorted(used - known)


def test_every_option_the_readme_names_composes(tmp_path):
    # `task.options.<key>=<value>` and `task.<key>=<value>` written in the README compose as written
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = set(re.findall(r"`(task\.options\.\w+=[^`\s]+)`", readme))
    assert {"task.options.strict=false", "task.options.unlisted=skip"} <= found
    for option in sorted(found):
        with initialize_config_module("stackmix.conf", version_base="1.3"):
            compose("prepare", overrides=["task=dataset", option, f"paths.output_dir={tmp_path}"])
