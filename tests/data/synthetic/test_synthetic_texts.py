"""Texts of the synthetic lines (stackmix.data.synthetic.texts)."""
from __future__ import annotations

import re

import numpy as np

from stackmix.data import synthetic as syn
from stackmix.data.synthetic.texts import cdf_of


def test_text_sampling() -> None:
    words, probs = syn.load_words(500)
    rng = np.random.default_rng(0)
    texts = [syn.sample_text(rng, words, probs, 2, 5, 32) for _ in range(300)]
    assert all(len(t) <= 32 and len(re.split(r"[ -]+", t)) >= 2 for t in texts)
    chars = set("".join(texts))
    assert chars <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,'-?")
    assert {",", ".", "-"} <= chars and any(c.isdigit() for c in chars)
    assert any(c.isupper() for c in chars)


def test_cdf_draws_what_generator_choice_draws() -> None:
    """The word table built once gives the very index ``rng.choice(n, p=probs)`` gives from the
    same generator state (so the dataset is the one the per-call choice produced)."""
    _, probs = syn.load_words(5000)
    cdf = cdf_of(probs)
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(20000):
        assert int(cdf.searchsorted(a.random(), side="right")) == int(b.choice(len(probs), p=probs))
