"""Every option of every config group composes, and the composed objects instantiate."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import compose_train

CONF = Path(__file__).resolve().parents[1] / "stackmix" / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_default_is_synthetic_small_model(tmp_path):
    cfg = compose_train([], tmp_path)
    assert cfg.dataset.name == "synthetic"
    assert cfg.model.net.backbone == "resnet18"  # the small CPU model
    assert cfg.aug.name == "none"


def test_real_datasets_default_to_paper_model(tmp_path):
    cfg = compose_train(["dataset=poilus"], tmp_path)
    assert cfg.model.net.backbone == "resnet34" and cfg.model.net.stem_stride == 1
    assert (cfg.dataset.image_h, cfg.dataset.image_w) == (128, 2048)
    assert cfg.model.optimizer.lr == 2e-4 and cfg.model.scheduler.max_lr == 1e-3


@pytest.mark.parametrize("group", ["dataset", "aug", "model", "trainer", "logger", "callbacks", "debug"])
def test_every_group_option_composes(group, tmp_path):
    assert options(group), f"conf/{group} is empty"
    for name in options(group):
        extra = ["dataset.root=/tmp/x"] if (group, name) == ("dataset", "custom") else []
        cfg = compose_train([f"{group}={name}"] + extra, tmp_path)
        OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


@pytest.mark.parametrize("name", options("experiment"))
def test_experiments_compose(name, tmp_path):
    cfg = compose_train([f"experiment={name}"], tmp_path)
    OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("name", options("trainer"))
def test_trainers_instantiate(name, tmp_path):
    cfg = compose_train([f"trainer={name}"], tmp_path)
    if cfg.trainer.get("accelerator") == "gpu":
        pytest.skip("needs a GPU")
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


def test_loggers_and_callbacks_instantiate(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    cfg = compose_train(["logger=wandb"], tmp_path)
    assert cfg.logger.wandb.offline is True  # no credentials: offline, never prompts
    assert "csv" in cfg.logger
    for c in cfg.callbacks.values():
        instantiate(c)


def test_prepare_config_composes_every_task(tmp_path):
    for task in options("task"):
        with initialize_config_module("stackmix.conf", version_base="1.3"):
            cfg = compose("prepare", overrides=[f"task={task}", f"paths.output_dir={tmp_path}"])
        assert cfg.task.name == task


def test_ctc_length_filter_uses_the_models_time_steps(tmp_path):
    assert compose_train([], tmp_path).data.time_steps == 64  # small: 64 steps, 128 features
    assert compose_train(["model=paper"], tmp_path).data.time_steps == 256
