"""`prepare.py` jobs: each module has ``run(cfg)`` and a config ``conf/task/<name>.yaml``.

``task=<name>`` runs ``stackmix.tasks.<name>``, except for the names below.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# task names whose module is named differently (`import` is a Python keyword)
MODULES = {"import": "import_data"}
# former task names: still accepted (their config composes the new one), with a notice
RENAMED = {"stackmix": "token_bank"}


def load_task(name: str) -> tuple[ModuleType, str | None]:
    """The module that runs ``task=<name>`` and, for a former name, a notice naming the new one."""
    notice = None
    if name in RENAMED:
        new = RENAMED[name]
        notice = (f"task={name} is now called task={new} (same options); "
                  f"the old name will be removed in a later release")
        name = new
    return importlib.import_module(f"stackmix.tasks.{MODULES.get(name, name)}"), notice
