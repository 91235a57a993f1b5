"""Provisioning tests reuse the process helpers of tests/sync (imported) and tests/meshd_procs."""

from __future__ import annotations

import sys
from pathlib import Path

SYNC_DIR = Path(__file__).resolve().parents[1] / "sync"
if str(SYNC_DIR) not in sys.path:
    sys.path.insert(0, str(SYNC_DIR))
