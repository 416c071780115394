"""Two synthetic datasets with different parameters in one cache folder live side by side (they
used to share ``<cache>/synthetic`` and delete each other on every switch)."""
from __future__ import annotations

from omegaconf import OmegaConf

from conftest import compose_train


def root_for(tmp_path, *overrides: str) -> str:
    cfg = compose_train(["dataset=synthetic", *overrides], tmp_path)
    return OmegaConf.to_container(cfg.dataset, resolve=True)["root"]


def test_synthetic_folder_is_keyed_by_its_parameters(tmp_path):
    default = root_for(tmp_path)
    assert default.startswith(f"{tmp_path}/cache/synthetic-")
    assert root_for(tmp_path, "dataset.synthetic.seed=1") != default
    assert root_for(tmp_path, "dataset.synthetic.n_train=100") != default
    assert root_for(tmp_path, "dataset.synthetic.workers=7") == default  # not an output parameter
