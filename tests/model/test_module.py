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


# ---------------------------------------------------------------- trim_padding (training batches)
def inked_batch(last_ink: int, width: int = 128) -> torch.Tensor:
    x = torch.full((3, 1, 32, width), 255, dtype=torch.uint8)
    x[1, 0, 10:20, 2:last_ink] = 0  # one line inked up to column last_ink - 1
    return x


def test_trim_padding_keeps_the_ink_and_scales_the_frames():
    from stackmix.model.module import trim_padding
    x = inked_batch(50)
    cut, frames = trim_padding(x, time_steps=32)  # 4 px a frame: 50 px → 13 frames → 16 (x8)
    assert frames == 16 and cut.shape[-1] == 64
    assert torch.equal(cut, x[..., :64]) and (x[..., 64:] == 255).all()
    assert trim_padding(inked_batch(128), 32)[1] == 32  # ink to the edge: nothing cut
    assert trim_padding(inked_batch(121), 32)[0].shape[-1] == 128
    blank, f = trim_padding(torch.full((2, 1, 32, 128), 255, dtype=torch.uint8), 32)
    assert f == 8 and blank.shape[-1] == 32  # an all-white batch keeps one quantum


def test_a_trimmed_training_batch_costs_fewer_frames_and_evaluation_keeps_the_width():
    _, module = build("model.trim_padding=true")
    x = inked_batch(40)
    assert module.train_log_probs(x).shape[1] == 16  # 40 px → 10 frames → 16
    assert module.log_probs(x).shape[1] == 32  # validation/test/inference: the full width
    _, plain = build()  # the default: no cut
    assert plain.hparams.trim_padding is False and plain.train_log_probs(x).shape[1] == 32
