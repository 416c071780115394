"""Entry point of `python prepare.py task=<name>`: runs ``stackmix.tasks.<name>.run``."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from stackmix import conf, resolvers  # noqa: F401  (registers the schemas and ${sm.*} resolvers)
from stackmix.cli.errors import reporting_errors
from stackmix.cli.overrides import entry_point

log = logging.getLogger("stackmix.prepare")

TASK_DIR = Path(conf.__file__).parent / "task"


def usage() -> str:
    from stackmix.tasks import RENAMED

    names = sorted(p.stem for p in TASK_DIR.glob("*.yaml") if p.stem not in RENAMED)
    return ("prepare.py: error: say which job to run: python prepare.py task=<name> with <name> one "
            f"of {', '.join(names)} (python prepare.py --help describes them)")


@hydra.main(version_base="1.3", config_path="../conf", config_name="prepare")
def hydra_main(cfg: DictConfig):
    if cfg.get("task") is None:
        print(usage(), file=sys.stderr, flush=True)
        raise SystemExit(2)

    def prepare():
        from stackmix.conf.hardware import set_threads
        from stackmix.tasks import load_task

        set_threads(cfg.get("threads"))

        module, notice = load_task(str(cfg.task.name))
        if notice:
            log.warning("%s", notice)
        return module.run(cfg)

    return reporting_errors("prepare.py", prepare)


# the scripts and console entry points: a null-block override is a message, then Hydra
main = entry_point("prepare.py", "prepare", hydra_main)

if __name__ == "__main__":
    main()
