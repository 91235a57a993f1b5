"""Imports point one way (docs/docs/ARCHITECTURE.md §2), and every module imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("crdt_model", "discovery", "ui", "meshd")
ALLOWED = {
    "crdt_model": set(),
    "discovery": set(),
    "ui": {"crdt_model"},
    "meshd": {"crdt_model", "discovery", "ui"},
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def _top_imports(path: Path) -> set[str]:
    """The top-level names of every absolute import in the module at `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(("name", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_module_imports_only_lower_layers(name: str, path: Path) -> None:
    package = name.split(".")[0]
    wrong = (_top_imports(path) & set(PACKAGES)) - ALLOWED[package] - {package}
    assert not wrong, f"{name} imports {sorted(wrong)}, which docs/ARCHITECTURE.md §2 forbids"


def test_only_the_adapter_imports_automerge() -> None:
    offenders = [
        name
        for name, path in _modules()
        if name != "crdt_model.adapter" and "automerge" in _top_imports(path)
    ]
    assert offenders == []


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = [name for name, _ in _modules()]
    script = (
        "import importlib, subprocess, sys\n"
        "bad = []\n"
        "for n in sys.argv[1:]:\n"
        "    r = subprocess.run([sys.executable, '-c', f'import {n}'], capture_output=True)\n"
        "    if r.returncode: bad.append((n, r.stderr.decode()[-300:]))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names], cwd=ROOT, capture_output=True, text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout
