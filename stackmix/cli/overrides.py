"""Command-line overrides that set a key inside a block the composed config leaves null.

``python train.py aug=blots aug.stackmix.corpus=train``: ``aug=blots`` has no StackMix
(``aug.stackmix`` is null), and OmegaConf stops Hydra's composition with ``AssertionError:
Unexpected type for root: NoneType`` and a traceback that names neither the override nor the
block. :func:`check_null_blocks` composes the config without such overrides first and, when one
of them reaches through a null block, raises a :class:`~stackmix.conf.checks.ConfigError` that
names the override, the block and the option that leaves it out (in a sweep: the job).

Only overrides with a key at least three levels deep (``group.block.key``) can meet a null block
in this project's configs, so a command without one costs nothing; one with one is composed once
more (once per combination of swept config groups for ``-m``, at most 16). Anything this check
cannot parse or compose is left to Hydra, which reports it as before.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from stackmix.conf.checks import ConfigError

__all__ = ["check_null_blocks"]

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
MAX_JOBS = 16  # swept group combinations composed at most (the rest are left to Hydra)
_SKIP_FLAGS = ("help", "hydra_help", "shell_completion", "info", "experimental_rerun",
               "config_dir", "config_path", "config_name")


def _deep(override) -> bool:
    return (not override.is_delete() and override.key_or_group.count(".") >= 2
            and not override.key_or_group.startswith("hydra."))


def check_null_blocks(config_name: str, argv: list[str]) -> None:
    """Raise ConfigError when an override of ``argv`` (the command line after the script) sets a
    key under a block that the config composed from the other overrides leaves null."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        args = get_args_parser().parse_args(argv)
        if any(getattr(args, flag, None) for flag in _SKIP_FLAGS):
            return
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except (Exception, SystemExit):  # noqa: BLE001  (Hydra reports its own parse errors)
        return
    deep = [o for o in overrides if _deep(o)]
    if not deep:
        return
    keep, sweeps = [], []
    for o in overrides:
        if o in deep:
            continue
        if o.is_sweep_override():
            if "." not in o.key_or_group and (CONF_DIR / o.key_or_group).is_dir():
                sweeps.append([f"{o.key_or_group}={v}" for v in o.sweep_string_iterator()])
            continue  # a swept value cannot empty a block
        keep.append(o.input_line)
    for job in itertools.islice(itertools.product(*sweeps), MAX_JOBS):
        cfg = _compose(config_name, keep + list(job))
        if cfg is None:
            return
        for o in deep:
            _refuse_if_null(cfg, o, job if sweeps else ())


def _compose(config_name: str, overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():  # a test or a library caller composing already
        return None
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            return compose(config_name, overrides=overrides, return_hydra_config=True)
    except Exception:  # noqa: BLE001  (Hydra reports it when it composes for the run)
        return None


def _refuse_if_null(cfg, override, job: tuple[str, ...]) -> None:
    from omegaconf import OmegaConf

    parts = override.key_or_group.split(".")
    node = cfg
    for n, part in enumerate(parts[:-1], start=1):
        try:
            if not OmegaConf.is_dict(node) or part not in node:
                return  # a missing key: Hydra names it
            node = node[part]
        except Exception:  # noqa: BLE001  (an interpolation that fails: Hydra reports it)
            return
        if node is None:
            break
    else:
        return
    block, group = ".".join(parts[:n]), parts[0]
    choice = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}", default=None)
    chosen = f"{group}={choice}" if choice is not None else "this configuration"
    advice = (f"sweep the {group} options that have it separately from those that do not"
              if job else f"drop the override, or choose another {group} option, one that has it")
    raise ConfigError(
        f"{override.input_line}: {chosen}{' (a job of this sweep)' if job else ''} leaves "
        f"{block} null (it has no {parts[n - 1]} block), so there is nothing to set "
        f"{'.'.join(parts[n:])} in: {advice}.")


def entry_point(prog: str, config_name: str, hydra_main):
    """The ``main()`` of a script: :func:`check_null_blocks` on ``sys.argv``, then Hydra's main.
    Called with a composed config (tests, the Python API) it goes straight to ``hydra_main``."""
    import sys

    from stackmix.cli.errors import reporting_errors

    def main(cfg=None):
        if cfg is None:
            reporting_errors(prog, lambda: check_null_blocks(config_name, sys.argv[1:]))
        return hydra_main(cfg)

    main.__doc__ = hydra_main.__doc__
    return main
