"""Two real `meshd run` nodes of one mesh and one facility, each serving the web UI.

The process helpers of tests/sync are imported, not copied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR / "sync") not in sys.path:
    sys.path.insert(0, str(TESTS_DIR / "sync"))

from sync_procs import MeshdProcess, make_mesh  # noqa: E402


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[MeshdProcess, MeshdProcess]]:
    """Device A and device B, each dialling the other (static peers, no mDNS)."""
    a_dir, b_dir = make_mesh(tmp_path, 2)
    a, b = MeshdProcess(a_dir), MeshdProcess(b_dir)
    try:
        a.start([b.peer_address])
        b.start([a.peer_address])
        yield a, b
    finally:
        for node in (a, b):
            node.stop()
