"""A frozen copy of the project's code for one soak, so every node incarnation runs the same code.

The working tree may change while a soak runs (other people edit it); a node restarted mid-soak
would then run newer code than its peers. Seen: a handshake edit made mid-run split the mesh
into the nodes started before it and those started after. Only the standard library is used
here: the copy must exist before anything of the project is imported.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGES = ("crdt_model", "discovery", "ui", "meshd")
TEST_HELPERS = ("tests/netns.py", "tests/meshd_procs.py", "tests/sync/sync_procs.py")
SOURCES = ("worktree", "head")
GIT_TIMEOUT_S = 60


def freeze(root: Path, dest: Path, source: str) -> Path:
    """Copy the packages and the test helpers the soak uses from `root` into `dest`.

    `source` "worktree" copies the files as they are now (uncommitted edits included); "head"
    takes them from the last commit.
    """
    dest.mkdir(parents=True, exist_ok=True)
    paths = [*PACKAGES, *TEST_HELPERS]
    if source == "head":
        archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", "HEAD",
                                  *paths], capture_output=True, timeout=GIT_TIMEOUT_S, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(dest, filter="data")
        return dest
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(root / package, dest / package, ignore=ignore, dirs_exist_ok=True)
    for helper in TEST_HELPERS:
        (dest / helper).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / helper, dest / helper)
    return dest


def import_paths(code: Path) -> list[str]:
    """Where the soak's own process imports the frozen packages and helpers from."""
    return [str(code), str(code / "tests"), str(code / "tests" / "sync")]


def meshd_argv() -> list[str]:
    """`meshd` as a command; with meshd_env it runs the frozen copy, not the editable install."""
    # -P: no current directory on the path, which would put a checkout ahead of the copy.
    return [sys.executable, "-P", "-c", "import sys; from meshd.cli import app; "
            "sys.argv[0] = 'meshd'; sys.exit(app())"]


def meshd_env(code: Path) -> dict[str, str]:
    """The environment for meshd_argv: the frozen copy first on the import path (the editable
    install's finder comes after every path entry)."""
    return {**os.environ, "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1"}
