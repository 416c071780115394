"""init_from=<ckpt> alphabet=union|new: shared characters keep their output rows, every other
weight is copied; model.freeze_backbone keeps the CNN as loaded for freeze_epochs epochs."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_train, make_dataset, tiny_train_overrides, untrained_checkpoint
from stackmix.model.init_from import (
    InitFromError, load_source, plan_alphabet, transfer_weights,
)

OLD = "abcdef "


def _module(alphabet: str, tmp_path, seed: int = 1):
    torch.manual_seed(seed)
    cfg = compose_train(tiny_train_overrides(tmp_path))
    return instantiate(cfg.model, alphabet=alphabet, image_h=32, image_w=128, _recursive_=False)


def _out_layer(module):
    return module.net.head[-1]


@pytest.mark.parametrize("mode,expected", [("union", OLD + "xz"), ("new", " abxz")])
def test_shared_characters_keep_their_weights(tmp_path, mode, expected):
    src = load_source(untrained_checkpoint(tmp_path / "m.ckpt", alphabet=OLD))
    alphabet = plan_alphabet(src.alphabet, " abxz", mode)
    assert alphabet == expected
    module = _module(alphabet, tmp_path)
    fresh = {k: v.clone() for k, v in module.state_dict().items()}
    stats = transfer_weights(module, src, alphabet)
    old_w, old_b = src.state_dict["net.head.3.weight"], src.state_dict["net.head.3.bias"]
    layer = _out_layer(module)
    for i, c in enumerate(alphabet):
        row = i + 1
        if c in OLD:
            j = OLD.index(c) + 1
            assert torch.equal(layer.weight[row], old_w[j]) and layer.bias[row] == old_b[j]
        else:  # a fresh row, as the new model initialised it
            assert torch.equal(layer.weight[row], fresh["net.head.3.weight"][row])
    assert torch.equal(layer.weight[0], old_w[0])  # the blank
    for k, v in module.state_dict().items():  # everything else is the checkpoint's
        if not k.endswith(("head.3.weight", "head.3.bias")):  # net. and its _forward_net alias
            assert torch.equal(v, src.state_dict[k]), k
    assert stats == ({"kept": 3, "fresh": 2, "dropped": 4} if mode == "new" else
                     {"kept": 7, "fresh": 2, "dropped": 0})


def test_a_different_network_is_refused(tmp_path):
    src = load_source(untrained_checkpoint(tmp_path / "m.ckpt", alphabet=OLD))
    cfg = compose_train(tiny_train_overrides(tmp_path) + ["model.net.lstm_hidden=16"])
    module = instantiate(cfg.model, alphabet=OLD, image_h=32, image_w=128, _recursive_=False)
    with pytest.raises(InitFromError, match="network differs"):
        transfer_weights(module, src, OLD)
    with pytest.raises(InitFromError, match="union, new"):
        plan_alphabet(OLD, "ab", "resize")
    with pytest.raises(InitFromError, match="init_from"):
        load_source(tmp_path / "nothing.ckpt")


def test_training_from_a_model_with_a_frozen_backbone(tmp_path):
    """train.py init_from=... alphabet=union model.freeze_backbone=true: one epoch, CNN frozen."""
    from stackmix.cli.train import run

    ckpt = untrained_checkpoint(tmp_path / "m.ckpt", alphabet="abc ")
    data = make_dataset(tmp_path / "data", counts=(8, 4, 4))  # words over a-f
    cfg = compose_train(tiny_train_overrides(data) + [
        f"init_from={ckpt}", "alphabet=union", "model.freeze_backbone=true",
        "model.freeze_epochs=1", "trainer.max_epochs=1", "test_after_fit=false",
        "~callbacks.progress_bar", "+trainer.enable_progress_bar=false"], tmp_path)
    metrics = run(cfg)
    trained = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    assert trained["hyper_parameters"]["alphabet"] == "abc def"
    src = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    new = trained["state_dict"]
    cnn = [k for k in src if k.startswith("net.features.")]
    assert cnn and all(torch.equal(new[k], src[k]) for k in cnn)  # frozen, BN statistics too
    assert not torch.equal(new["net.lstm.weight_hh_l0"], src["net.lstm.weight_hh_l0"])
