"""README's "Code layout" section matches the package tree: every sub-package of stackmix/ is in
it, and every module or folder it names exists."""
from __future__ import annotations

import re

from conftest import REPO

PKG = REPO / "stackmix"


def _layout() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Code layout", 1)[1].split("\n## ", 1)[0]
    return section.split("```text", 1)[1].split("```", 1)[0]


def test_every_package_is_in_the_layout():
    layout = _layout()
    packages = {p.parent.relative_to(PKG).parts[0] for p in PKG.rglob("__init__.py") if p.parent != PKG}
    missing = sorted(p for p in packages if f"── {p}/" not in layout)
    assert not missing, f"README 'Code layout' lacks the packages {missing}"


def test_every_module_the_layout_names_exists():
    layout = _layout()
    names = set(re.findall(r"\b([a-z_0-9]+)\.py\b", layout))
    modules = {p.stem for p in PKG.rglob("*.py")} | {p.stem for p in REPO.glob("*.py")}
    assert names, "no module named in the layout"
    assert not sorted(names - modules), f"README 'Code layout' names missing modules {sorted(names - modules)}"
    folders = set(re.findall(r"\b([a-z_]+)/", layout)) - {"stackmix", "bench", "tests", "reliability"}
    existing = {p.name for p in PKG.rglob("*") if p.is_dir()}
    assert not sorted(folders - existing), sorted(folders - existing)
