"""Entry point of `python prepare.py task=<name>`: dispatches to ``stackmix.tasks.<name>.run``."""
from __future__ import annotations

import importlib
import logging

import hydra
from omegaconf import DictConfig

from stackmix import conf, resolvers  # noqa: F401  (registers the schemas and ${sm.*} resolvers)

log = logging.getLogger("stackmix.prepare")


@hydra.main(version_base="1.3", config_path="../conf", config_name="prepare")
def main(cfg: DictConfig):
    name = cfg.task.name
    try:
        module = importlib.import_module(f"stackmix.tasks.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"stackmix.tasks.{name}":
            raise SystemExit(f"unknown task {name!r}: see conf/task/ for the available ones") from None
        raise
    return module.run(cfg)


if __name__ == "__main__":
    main()
