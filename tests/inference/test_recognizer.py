"""TorchRecognizer.from_checkpoint: the one way a .ckpt is loaded for inference."""
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_train, tiny_train_overrides
from stackmix.checkpoints import CheckpointError
from stackmix.inference.recognizer import Recognizer, TorchRecognizer

ALPHABET = " abcdef"


def _save(path: Path, compile: bool) -> torch.nn.Module:
    cfg = compose_train(tiny_train_overrides(Path("unused")) + [f"model.compile={compile}"])
    module = instantiate(cfg.model, alphabet=ALPHABET, image_h=32, image_w=128, _recursive_=False)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "global_step": 1}, path)
    return module.eval()


@pytest.mark.parametrize("compiled", [False, True])
def test_checkpoint_loads_without_compiling_and_gives_the_trained_outputs(tmp_path, compiled):
    module = _save(tmp_path / "m.ckpt", compiled)
    rec = Recognizer.load(tmp_path / "m.ckpt", device="cpu")
    assert isinstance(rec, TorchRecognizer) and rec.path == tmp_path / "m.ckpt"
    assert rec.module.hparams["compile"] is False and rec.module._forward_net is rec.module.net
    images = np.full((2, 32, 128), 255, np.uint8)
    images[:, 10:20, 20:90] = 0
    with torch.no_grad():
        want = module.net(module.preprocess(torch.from_numpy(images)[:, None])).log_softmax(-1)
    assert np.allclose(rec.log_probs(images), want.numpy(), atol=1e-5)


def test_weights_that_do_not_fit_are_refused(tmp_path):
    _save(tmp_path / "m.ckpt", False)
    ckpt = torch.load(tmp_path / "m.ckpt", weights_only=True)
    ckpt["hyper_parameters"]["alphabet"] = ALPHABET + "xyz"  # 3 more classes than the weights
    torch.save(ckpt, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="do not fit the network"):
        Recognizer.load(tmp_path / "bad.ckpt", device="cpu")
