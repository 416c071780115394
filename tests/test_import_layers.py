"""The packages of stackmix point one way: no import cycle between them (function-local imports
included), and every module imports in a fresh interpreter, in dependency order."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from conftest import REPO

PKG = REPO / "stackmix"


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _unit(module: str) -> str:
    """The layer a module belongs to: its sub-package, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "stackmix"


def _imports(module: str, path: Path) -> set[str]:
    """Every stackmix module ``module`` imports, at any depth of its code."""
    found = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stackmix"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.startswith("stackmix"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
    return found


def package_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {_unit(m): set() for m in mods if m != "stackmix"}
    for m, path in mods.items():
        if m == "stackmix":
            continue
        for target in _imports(m, path):
            while target not in mods and "." in target:
                target = target.rsplit(".", 1)[0]  # `from stackmix.x import name`
            if target in mods and target != "stackmix" and _unit(target) != _unit(m):
                graph[_unit(m)].add(_unit(target))
    return graph


def test_no_import_cycle_between_packages():
    graph = package_graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"import cycle between packages: {' -> '.join(e.args[1])}") from None
    assert {"ctc", "model", "inference", "data", "mix"} <= set(order)
    assert "inference" not in graph["model"]  # the model is used by inference, not the reverse


def test_every_module_imports_in_a_fresh_interpreter_in_dependency_order():
    graph = package_graph()
    order = list(TopologicalSorter(graph).static_order())
    mods = sorted(_modules(), key=lambda m: (order.index(_unit(m)) if m != "stackmix" else -1, m))
    code = "import importlib\nfor m in %r:\n    importlib.import_module(m)\nprint('ok', len(%r))" \
        % (mods, mods)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")
