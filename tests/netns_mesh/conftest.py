"""The netns mesh tests use the rig in tests/netns.py and the process helpers of tests/node."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
for helpers in (TESTS_DIR, TESTS_DIR / "node", TESTS_DIR / "sync"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))
