"""The netns pairing tests use the rig in tests/netns.py and the namespace API client of
tests/netns_mesh."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
for helpers in (TESTS_DIR, TESTS_DIR / "netns_mesh", TESTS_DIR / "netns_pairing"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))
