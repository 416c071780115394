"""OmegaConf resolvers used by the configs (``${sm.<name>:...}``)."""
from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf


def project_root() -> str:
    """The checkout holding this package (where pyproject.toml is), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file():
        return str(here)
    return str(Path.cwd())


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


def auto_precision() -> str:
    """bf16 mixed precision on a GPU that supports it, fp32 elsewhere."""
    if _cuda():
        import torch

        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def register() -> None:
    for name, fn in {
        "sm.project_root": project_root,
        "sm.precision": auto_precision,
        "sm.cuda": _cuda,
    }.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register()
