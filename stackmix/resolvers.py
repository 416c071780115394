"""OmegaConf resolvers used by the configs (``${sm.<name>:...}``), registered on import.

The machine probes live in :mod:`stackmix.conf.hardware`, the tracking defaults in
:mod:`stackmix.conf.tracking`; both import their heavy libraries only when a value is resolved.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from stackmix.conf.hardware import auto_precision, cuda_available
from stackmix.conf.tracking import wandb_offline


def project_root() -> str:
    """The checkout holding this package (where pyproject.toml is), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file():
        return str(here)
    return str(Path.cwd())


def refresh_rate() -> int:
    """Progress bars refresh every batch in a terminal, every 50 batches in a log file."""
    import sys

    return 1 if sys.stdout.isatty() else 50


def first_set(*values):
    """The first argument that is not null (e.g. time_steps, else time_feature_count)."""
    return next((v for v in values if v is not None), None)


def synthetic_key(params) -> str:
    """``${sm.synthetic_key:${dataset.synthetic}}``: the parameters' hash (folder name suffix)."""
    from stackmix.data.synthetic import params_key

    return params_key(params)


# The model a dataset trains with when the command line names none (train.yaml's defaults list):
# the embedded synthetic data is the CPU demo, so it gets the small network.
DEFAULT_MODELS = {"synthetic": "small"}


def default_model(dataset: str) -> str:
    """``model`` group choice for a ``dataset`` group choice: ``small`` for synthetic, else ``paper``."""
    return DEFAULT_MODELS.get(str(dataset), "paper")


def register() -> None:
    for name, fn in {
        "sm.project_root": project_root,
        "sm.precision": auto_precision,
        "sm.cuda": cuda_available,
        "sm.wandb_offline": wandb_offline,
        "sm.refresh_rate": refresh_rate,
        "sm.first": first_set,
        "sm.synthetic_key": synthetic_key,
        "sm.default_model": default_model,
    }.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register()
