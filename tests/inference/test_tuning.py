"""Choosing a decoder's settings on held-out lines (stackmix.inference.tuning)."""
from types import SimpleNamespace

import pytest

from stackmix.inference import evaluation
from stackmix.inference.decoder_factory import decoder_config
from stackmix.inference.tuning import grid_settings, tune_decoder, with_setting


def test_grid_settings_are_every_combination_in_order():
    assert grid_settings({"alpha": [0.3, 0.5], "beta": [0.0, 1.0]}) == [
        {"alpha": 0.3, "beta": 0.0}, {"alpha": 0.3, "beta": 1.0},
        {"alpha": 0.5, "beta": 0.0}, {"alpha": 0.5, "beta": 1.0}]
    assert grid_settings({"lm": {"order": [5, 7]}}) == [{"lm.order": 5}, {"lm.order": 7}]
    for bad in ({"alpha": []}, {"alpha": 0.5}, {"alpha": "0.5"}):
        with pytest.raises(ValueError, match="task.tune.grid.alpha"):
            grid_settings(bad)


def test_with_setting_reaches_nested_keys_and_refuses_unknown_ones():
    base = decoder_config("beam")
    out = with_setting(base, "lm.order", 7)
    assert out["lm"]["order"] == 7 and base["lm"]["order"] == 5  # a copy
    with pytest.raises(ValueError, match="'alpah' is not a setting"):
        with_setting(base, "alpah", 1.0)
    with pytest.raises(ValueError, match="'lm.ordre' is not a setting"):
        with_setting(base, "lm.ordre", 7)


def test_tune_decoder_returns_the_settings_with_the_lowest_cer(monkeypatch):
    """The network's output is faked per combination: the third combination reads best."""
    samples = [SimpleNamespace(sample_id=f"s{i}", path=f"{i}.png", text=t)
               for i, t in enumerate(["le bon vin", "la mer"])]
    hyps = {"0": ["le bn vi", "la mr"], "1": ["le bon vi", "la me"], "2": ["le bon vin", "la mer"],
            "3": ["le bo", "la"]}

    def fake(recognizer, lines, decoders, **kw):
        assert sorted(decoders) == ["0", "1", "2", "3"]
        return {n: [{"text": s.text, "prediction": h} for s, h in zip(lines, hyps[n])]
                for n in decoders}

    monkeypatch.setattr(evaluation, "evaluate_samples", fake)
    rec = SimpleNamespace(alphabet=" abeilmnortv")
    base = dict(decoder_config("beam"), lm={"corpus": "@train", "order": 3})
    best, rows = tune_decoder(rec, samples, base, {"alpha": [0.3, 0.8], "beta": [0.0, 1.0]},
                              train_texts=["le bon vin", "la mer"])
    assert (best["alpha"], best["beta"]) == (0.8, 0.0)  # combination 2
    assert best["lm"] == {"corpus": "@train", "order": 3} and best["beam_width"] == base["beam_width"]
    assert [r["cer"] for r in rows] == sorted(r["cer"] for r in rows) and rows[0]["cer"] == 0.0
    assert (rows[0]["alpha"], rows[0]["beta"]) == (0.8, 0.0) and len(rows) == 4
