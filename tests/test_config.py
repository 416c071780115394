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


@pytest.mark.parametrize("task", options("task"))
def test_every_prepare_task_composes_on_the_synthetic_dataset(task, tmp_path):
    # dataset=synthetic used to override the model group from inside the dataset file, which
    # prepare.yaml (no model group) refused: every task failed with dataset=synthetic
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=[f"task={task}", "dataset=synthetic",
                                            f"paths.output_dir={tmp_path}"])
    assert cfg.dataset.name == "synthetic" and cfg.dataset.synthetic.n_train == 4000
    assert "model" not in cfg


def test_the_model_default_follows_the_dataset_and_yields_to_the_command_line(tmp_path):
    assert compose_train(["model=paper"], tmp_path).model.net.backbone == "resnet34"
    assert compose_train(["dataset=poilus", "model=small"], tmp_path).model.net.backbone == "resnet18"
    # the synthetic dataset file no longer touches the model group
    text = (CONF / "dataset" / "synthetic.yaml").read_text(encoding="utf-8")
    assert "override" not in text and "_global_" not in text


def _yaml(path: Path) -> dict:
    return OmegaConf.to_container(OmegaConf.load(path))


def test_aug_files_are_compositions_not_copies(tmp_path):
    blocks = {name: _yaml(CONF / "aug" / f"{name}.yaml") for name in options("aug")}
    # each block is written in exactly one file
    for block in ("base", "blots", "stackmix"):
        assert [n for n, b in blocks.items() if block in b] == [block], block
    assert blocks["blots_stackmix"] == {"defaults": ["blots", "stackmix", "_self_"],
                                        "name": "blots_stackmix"}
    composed = {n: compose_train([f"aug={n}"], tmp_path).aug for n in blocks}
    both = composed["blots_stackmix"]
    assert both.base == composed["base"].base == composed["blots"].base == composed["stackmix"].base
    assert both.blots == composed["blots"].blots and both.stackmix == composed["stackmix"].stackmix
    assert composed["none"].base is None and composed["base"].blots is None


def test_dataset_files_do_not_repeat_the_base_block():
    # image size, normalization and the bad-row policies live once, in schema.DatasetConf; a
    # dataset states only what differs from them (Peter: its own replace/regex rules)
    from stackmix.conf.schema import NormalizeConf

    base_normalize = OmegaConf.to_container(OmegaConf.structured(NormalizeConf))
    for name in options("dataset"):
        data = _yaml(CONF / "dataset" / f"{name}.yaml")
        assert data["defaults"][0] == "/schema_dataset@_here_", name
        for key in ("on_bad_row", "unknown_train_chars"):
            assert key not in data, f"dataset/{name}.yaml repeats {key}"
        for key, value in (data.get("normalize") or {}).items():
            assert value != base_normalize[key], f"dataset/{name}.yaml repeats normalize.{key}"
        assert (data.get("image_h"), data.get("image_w")) != (128, 2048), name


def test_dataset_defaults_come_from_the_base(tmp_path):
    ds = compose_train(["dataset=iam"], tmp_path).dataset
    assert (ds.image_h, ds.image_w) == (128, 2048)
    assert ds.normalize == {"unicode_form": "NFC", "collapse_whitespace": True, "replace": {},
                            "regex": {}, "lowercase": False}
    peter = compose_train(["dataset=peter"], tmp_path).dataset.normalize
    assert peter.unicode_form == "NFC" and peter.collapse_whitespace and not peter.lowercase
    assert peter.replace["o"] == "о" and len(peter.regex) == 1
    assert ds.on_bad_row == "raise" and ds.unknown_train_chars == "error"
    assert compose_train([], tmp_path).dataset.image_h == 48  # a dataset still sets its own


def test_trainer_schema_lists_lightnings_arguments_with_their_defaults():
    import inspect

    from lightning.pytorch import Trainer

    from stackmix.conf.schema import TrainerConf

    params = inspect.signature(Trainer.__init__).parameters
    wired = {"self", "logger", "callbacks", "plugins"}  # built by train.py from their own groups
    schema = OmegaConf.structured(TrainerConf)
    assert set(schema) - {"_target_"} == set(params) - wired
    for key in schema:
        if key != "_target_":
            assert schema[key] == params[key].default, key


def test_optimizer_and_scheduler_are_partial_and_get_the_total_steps(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from stackmix.model.module import HTRModule

    cfg = compose_train(["model=small",
                         "model.scheduler._target_=torch.optim.lr_scheduler.OneCycleLR"], tmp_path)
    assert cfg.model.optimizer._partial_ and cfg.model.scheduler._partial_
    module = instantiate(cfg.model, alphabet="ab", image_h=32, image_w=128, _recursive_=False)
    monkeypatch.setattr(HTRModule, "trainer", property(
        lambda self: SimpleNamespace(estimated_stepping_batches=7, callbacks=[])))
    out = module.configure_optimizers()
    assert type(out["optimizer"]).__name__ == "AdamW"
    assert out["optimizer"].param_groups[0]["params"][0] is next(module.parameters())
    assert out["lr_scheduler"]["scheduler"].total_steps == 7
    assert out["lr_scheduler"]["interval"] == "step"
    # the default schedule (BudgetOneCycleLR) gets the total steps and the time-budget hook too
    cfg = compose_train(["model=small"], tmp_path)
    module = instantiate(cfg.model, alphabet="ab", image_h=32, image_w=128, _recursive_=False)
    scheduler = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    assert type(scheduler).__name__ == "BudgetOneCycleLR" and scheduler.total_steps == 7


@pytest.mark.parametrize("override, key", [
    ("aug.blots.colour=1", "Key 'colour' not in 'BlotsConf'"),
    ("aug.blots.count_range=[1,x]", "aug.blots.count_range[1]"),
    ("dataset.image_h=big", "dataset.image_h"),
    ("trainer.max_epochs=abc", "trainer.max_epochs"),
    ("data.batch_size=abc", "data.batch_size"),
])
def test_schemas_refuse_unknown_keys_and_wrong_types_at_composition(override, key, tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException) as info:
        compose_train(["aug=blots", override], tmp_path)
    assert key in f"{info.value} {info.value.__cause__}"


def test_trainer_arguments_need_no_plus(tmp_path):
    assert compose_train(["trainer.accumulate_grad_batches=4"], tmp_path).trainer \
        .accumulate_grad_batches == 4


def test_renamed_task_still_runs_with_a_notice(tmp_path):
    from stackmix.tasks import load_task

    with initialize_config_module("stackmix.conf", version_base="1.3"):
        old = compose("prepare", overrides=["task=stackmix", f"paths.output_dir={tmp_path}"])
        new = compose("prepare", overrides=["task=token_bank", f"paths.output_dir={tmp_path}"])
    assert {k: v for k, v in old.task.items() if k != "name"} == \
        {k: v for k, v in new.task.items() if k != "name"}
    module, notice = load_task("stackmix")
    assert module.__name__ == "stackmix.tasks.token_bank" and "task=token_bank" in notice
    assert load_task("token_bank") == (module, None)
    assert load_task("import")[0].__name__ == "stackmix.tasks.import_data"


@pytest.mark.parametrize("env, netrc_key, offline", [
    ({"WANDB_MODE": "offline", "WANDB_API_KEY": "k" * 40}, None, True),
    ({"WANDB_MODE": "online"}, None, False),
    ({"WANDB_API_KEY": "k" * 40}, None, False),
    ({}, "0123456789abcdef0123456789abcdef01234567", False),  # stored by `wandb login`
    ({}, None, True),
])
def test_wandb_is_offline_unless_wandb_has_credentials(env, netrc_key, offline, tmp_path,
                                                        monkeypatch):
    pytest.importorskip("wandb")
    from stackmix.conf.tracking import wandb_offline

    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    netrc = tmp_path / "netrc"
    if netrc_key:
        netrc.write_text(f"machine api.wandb.ai\n  login user\n  password {netrc_key}\n")
        netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert wandb_offline() is offline


def test_no_module_changes_the_environment_when_imported():
    import subprocess
    import sys

    code = (
        "import os, pkgutil, importlib, stackmix\n"
        "import torch, lightning, albumentations, cv2, hydra  # what they do is not ours\n"
        "before = dict(os.environ)\n"
        "for m in pkgutil.walk_packages(stackmix.__path__, 'stackmix.'):\n"
        "    importlib.import_module(m.name)\n"
        "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
        "print(changed)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("dataset,aug,epochs", [
    ("bentham", "base", 300), ("bentham", "blots", 500), ("iam", "stackmix", 1000),
    ("saintgall", "blots_stackmix", 1000), ("hkr", "base", 100), ("hkr", "blots", 150),
    ("hkr", "stackmix", 300), ("hkr", "blots_stackmix", 300)])
def test_paper_preset_budgets(dataset, aug, epochs):
    cfg = compose_train(["experiment=paper", f"dataset={dataset}", f"aug={aug}"])
    assert cfg.trainer.max_epochs == epochs and cfg.data.batch_size == 16
    assert cfg.model.net.pretrained is True and cfg.model.net.lstm_dropout == 0.1
    assert cfg.dataset.fit == "paper"  # scale down only, centred vertically, left-aligned
    if cfg.aug.blots is not None:
        assert cfg.aug.blots.style == "paper" and list(cfg.aug.blots.intensity_range) == [0.75, 0.75]
        assert cfg.aug.blots.count_width is None  # 1-10 blots per line, as the original
    equal = compose_train(["experiment=paper", f"dataset={dataset}", f"aug={aug}",
                           "trainer.max_epochs=40"])
    assert equal.trainer.max_epochs == 40  # the equal-budget comparison


def test_blots_default_style_is_scribble():
    cfg = compose_train(["aug=blots"])
    assert cfg.dataset.fit == "height"  # without the paper preset: lines scaled to the height
    assert cfg.aug.blots.style == "scribble" and list(cfg.aug.blots.intensity_range) == [0.5, 0.9]
    assert cfg.aug.blots.count_width == 2048  # the blot count follows the line's length
