"""Rules on a composed config that its types cannot express (the types are in ``schema.py``).

Run by the entry points right after composition, before any data is read or any heavy library
is imported, so a bad value costs a second, not a data load: ``check_train(cfg)`` raises
:class:`ConfigError` with one message listing every problem and how to fix it.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

__all__ = ["ConfigError", "check_data_present", "check_dataset", "check_train"]

CHOICES = {
    "dataset.on_bad_row": ("raise", "skip"),
    "dataset.unknown_train_chars": ("error", "drop"),
    "dataset.fit": ("height", "paper"),  # stackmix.data.image.FIT_MODES
}


class ConfigError(ValueError):
    """A composed config that cannot work; the message says which key and what to write."""


_UNREADABLE = object()


def _value(cfg: DictConfig, key: str, problems: list[str]):
    """``cfg.<key>`` resolved, or ``_UNREADABLE`` after recording why it cannot be read."""
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as e:
        problems.append(f"{key}: {str(e).splitlines()[0]}")
        return _UNREADABLE


def _integer(cfg: DictConfig, key: str, problems: list[str], minimum: int | None = None,
             optional: bool = False) -> None:
    v = _value(cfg, key, problems)
    if v is _UNREADABLE or (v is None and optional):
        return
    if v is None:
        problems.append(f"{key} must be set (an integer)")
    elif isinstance(v, bool) or not isinstance(v, int):
        problems.append(f"{key}={v!r} is not an integer")
    elif minimum is not None and v < minimum:
        problems.append(f"{key}={v} must be at least {minimum}")


def check_dataset(cfg: DictConfig, problems: list[str]) -> None:
    """``dataset.*``: a root that is set, a positive image size, known policy names."""
    if OmegaConf.is_missing(cfg.dataset, "root"):
        name = OmegaConf.select(cfg, "dataset.name", default="custom")
        problems.append(
            f"dataset={name} needs the folder of a prepared dataset: add "
            "dataset.root=/path/to/folder (marking.csv + images; see README, 'Dataset format')")
    else:
        _value(cfg, "dataset.root", problems)
    for key in ("dataset.image_h", "dataset.image_w"):
        _integer(cfg, key, problems, minimum=1)
    for key, allowed in CHOICES.items():
        v = _value(cfg, key, problems)
        if v is not _UNREADABLE and str(v) not in allowed:
            problems.append(f"{key}={v!r}: expected {' or '.join(allowed)}")


def check_data_present(cfg: DictConfig, problems: list[str]) -> None:
    """The dataset folder holds a prepared dataset, or says how to make one (synthetic data is
    generated on first use)."""
    from stackmix.data.marking import MARKING

    ds = cfg.dataset
    if ds.get("synthetic") or OmegaConf.is_missing(ds, "root"):
        return
    root = Path(str(ds.root)).expanduser()
    if (root / MARKING).is_file():
        return
    name = str(ds.name)
    if ds.get("source"):
        how = (f"make prepare-{name} (or python prepare.py task=dataset dataset={name}; "
               "see README, 'Datasets')")
    else:
        how = ("python prepare.py task=import format=alto|pagexml|gt_txt input=<your files> "
               f"out={root} (see README, 'Your own data')")
    problems.append(f"dataset={name}: no prepared dataset at {root} ({MARKING} is missing). "
                    f"Prepare it with: {how}; or point dataset.root=... at a prepared copy")


def check_train(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` when ``python train.py`` could not run with ``cfg``."""
    problems: list[str] = []
    _integer(cfg, "seed", problems)
    check_dataset(cfg, problems)
    _integer(cfg, "data.batch_size", problems, minimum=1)
    _integer(cfg, "data.eval_batch_size", problems, minimum=1, optional=True)
    _integer(cfg, "data.num_workers", problems, minimum=0)
    _integer(cfg, "aug.warmup_steps", problems, minimum=0)
    max_epochs = _value(cfg, "trainer.max_epochs", problems)
    if isinstance(max_epochs, int) and max_epochs < 1 and max_epochs != -1:
        problems.append(f"trainer.max_epochs={max_epochs} must be at least 1 (or -1: no limit)")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    check_data_present(cfg, problems)
    if problems:
        raise ConfigError(problems[0])
