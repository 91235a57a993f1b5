"""Imports point one way (docs/docs/ARCHITECTURE.md §2), and every module imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT_WORKERS = 4
IMPORT_TIMEOUT_S = 60
PACKAGES = ("crdt_model", "discovery", "ui", "meshd")
MAX_MODULE_LINES = 300
IGNORED_TOP = ("artifacts", "build", "dist", "clinicmesh.egg-info", "__pycache__")
# A design document beside the repository, as the repo once cited it (spelt apart, so this file
# does not match itself).
OUTSIDE = ("../" + "shared", "DESIGN" + ".md", "/work" + "/")
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


def _imports_alone(name: str) -> tuple[str, str] | None:
    """(name, the end of its error) if `import name` fails in a fresh interpreter, else None."""
    result = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
    return None if result.returncode == 0 else (name, result.stderr[-300:])


# Each import is a fresh interpreter (~0.3 s, more on a busy machine): a few at a time.
@pytest.mark.timeout(300)
def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    with ThreadPoolExecutor(max_workers=IMPORT_WORKERS) as pool:
        failed = [bad for bad in pool.map(_imports_alone, [n for n, _ in _modules()]) if bad]
    assert failed == []


# Inside meshd: the clinic core sits below its doors (API, UI adapter), sync, membership, the
# node and the CLI, and above the store and Documents (docs/ARCHITECTURE.md §2).
ABOVE_THE_CORE = (
    "meshd.api", "meshd.clinic_ui", "meshd.ui_service", "meshd.sync", "meshd.membership",
    "meshd.node", "meshd.node_client", "meshd.cli", "meshd.provision", "meshd.invite_file",
    "meshd.status",
)
DOORS = ("meshd.api", "meshd.clinic_ui", "meshd.ui_service")
# What only the core touches: documents, the store, and the domain's document operations.
CORE_ONLY = (
    "meshd.docs", "meshd.store", "crdt_model.adapter", "crdt_model.chart", "crdt_model.entries",
    "crdt_model.dispense", "crdt_model.facility", "crdt_model.queue", "crdt_model.directory",
    "crdt_model.review", "crdt_model.worklists", "crdt_model.rules", "crdt_model.allergies",
)


def _imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement of `path` names (`from a.b import c` gives
    a.b and a.b.c, since c may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_clinic_core_imports_none_of_its_callers() -> None:
    wrong = {
        name: sorted(n for n in _imported_modules(path) if _under(n, ABOVE_THE_CORE))
        for name, path in _modules() if _under(name, ("meshd.clinic",))
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_store_and_documents_import_no_clinic_code() -> None:
    wrong = {
        name: sorted(n for n in _imported_modules(path)
                     if _under(n, ("meshd.clinic", "meshd.clinic_ui", "meshd.api")))
        for name, path in _modules() if _under(name, ("meshd.store", "meshd.docs"))
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_doors_reach_documents_and_the_store_only_through_the_core() -> None:
    wrong = {
        name: sorted(n for n in _imported_modules(path) if _under(n, CORE_ONLY))
        for name, path in _modules() if _under(name, DOORS)
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_no_module_of_the_packages_is_over_300_lines() -> None:
    long = {
        name: count for name, path in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_nothing_in_the_repository_points_outside_it() -> None:
    found = []
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if not path.is_file() or parts[0].startswith(".") or parts[0] in IGNORED_TOP:
            continue
        if path.suffix not in (".py", ".md", ".toml", ".cfg", ".html", ".js", ""):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(marker in text for marker in OUTSIDE):
            found.append(str(path.relative_to(ROOT)))
    assert found == []
