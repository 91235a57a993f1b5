"""Bundle tests reuse the multi-process sync helpers (tests/sync)."""

from __future__ import annotations

import sys
from pathlib import Path

SYNC_TESTS = Path(__file__).resolve().parents[1] / "sync"
if str(SYNC_TESTS) not in sys.path:
    sys.path.insert(0, str(SYNC_TESTS))
