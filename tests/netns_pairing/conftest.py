"""The netns pairing tests use the rig in tests/netns.py and the namespace API client of
tests/netns_mesh."""

from __future__ import annotations

import sys
from pathlib import Path

NETNS_MESH_DIR = Path(__file__).resolve().parents[1] / "netns_mesh"
if str(NETNS_MESH_DIR) not in sys.path:
    sys.path.insert(0, str(NETNS_MESH_DIR))
