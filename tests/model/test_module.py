"""HTRModule construction: the memory format chosen by model.channels_last."""
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_train, tiny_train_overrides


def build(*overrides: str):
    cfg = compose_train([*tiny_train_overrides(Path("unused")), *overrides])
    return cfg, instantiate(cfg.model, alphabet=" abc", image_h=32, image_w=128, _recursive_=False)


def conv_weights_nhwc(module) -> bool:
    convs = [m for m in module.net.modules() if isinstance(m, torch.nn.Conv2d)]
    return all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)


def test_the_small_cpu_model_is_channels_last():
    cfg, module = build()
    assert cfg.model.channels_last is True and module.hparams.channels_last is True
    assert conv_weights_nhwc(module)
    x = module.preprocess(torch.full((2, 1, 32, 128), 255, dtype=torch.uint8))
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_auto_means_on_a_gpu_only_and_other_values_are_refused():
    cfg, module = build("model.channels_last=auto")
    assert module.hparams.channels_last is torch.cuda.is_available()
    assert conv_weights_nhwc(module) == torch.cuda.is_available()
    _, forced = build("model.channels_last=false")
    assert forced.hparams.channels_last is False
    with pytest.raises(Exception, match="model.channels_last must be true, false or auto"):  # Hydra wraps it
        build("model.channels_last=yes")


def test_the_paper_network_defaults_to_auto():
    from hydra import compose, initialize_config_module
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=["dataset=synthetic", "model=paper"])
    assert cfg.model.channels_last == "auto"
