"""Synthetic dataset parameters (stackmix.data.synthetic.params): validation, the YAML block."""
from __future__ import annotations

from pathlib import Path

import pytest

from stackmix.data import synthetic as syn


def test_bad_params_are_explained() -> None:
    with pytest.raises(syn.SyntheticDataError, match="unknown synthetic dataset parameter"):
        syn.synthetic_params(n_lines=3)
    fonts = {"train": ["kalam"], "valid": ["caveat"], "test": ["kalam"]}
    with pytest.raises(syn.SyntheticDataError, match="splits are by font"):
        syn.synthetic_params(fonts=fonts)
    with pytest.raises(syn.SyntheticDataError, match="unknown font"):
        syn.synthetic_params(fonts={"train": ["comic"], "valid": [], "test": []}, n_valid=0, n_test=0)


def test_omegaconf_params_are_accepted(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(Path(syn.__file__).parents[2] / "conf" / "dataset" / "synthetic.yaml")
    block = (cfg.dataset if "dataset" in cfg else cfg).synthetic  # `_global_` package or not
    params = syn.synthetic_params(**block)
    assert params["fonts"]["test"] == ["kalam"] and "workers" not in params
    assert params == syn.synthetic_params()  # the yaml restates the code defaults

