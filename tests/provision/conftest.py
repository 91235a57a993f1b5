"""Provisioning tests reuse the process helpers of tests/sync and tests/node (imported)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
for helpers in (TESTS_DIR / "sync", TESTS_DIR / "node"):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))
