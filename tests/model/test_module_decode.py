"""Validation, test and the inference greedy decoder read CTC outputs with the same code."""
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate

from conftest import compose_train, tiny_train_overrides
from stackmix.inference.decoders import GreedyDecoder

ALPHABET = " abcdef"


def test_module_decoding_is_the_inference_greedy_decoder():
    cfg = compose_train(tiny_train_overrides(Path("unused")))
    module = instantiate(cfg.model, alphabet=ALPHABET, image_h=32, image_w=128, _recursive_=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 20, len(ALPHABET) + 1)) * 3
    x[0, :, 0] = 20.0  # a line of blanks only: empty text
    lp = torch.from_numpy(x).float().log_softmax(-1)
    texts, probs = module.decode(lp)
    hyps = GreedyDecoder(ALPHABET)(lp)
    assert texts == [h.text for h in hyps] and texts[0] == ""
    for p, h in zip(probs, hyps):
        assert np.allclose(p, h.char_probs, atol=1e-6)
    assert hyps[0].confidence == 0.0  # nothing read: no confidence
