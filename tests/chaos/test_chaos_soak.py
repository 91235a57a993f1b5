"""A two-minute seeded chaos soak of five real `meshd` nodes in network namespaces (mDNS only):
the clinic's day under partitions, rate limits, delay and loss, SIGKILL and SIGSTOP must
converge with every acknowledged write on every node. Runs `scripts/chaos` as a subprocess,
whose summary is the failure message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from netns import skip_reason

pytestmark = [pytest.mark.netns, pytest.mark.slow]

CHAOS = Path(__file__).resolve().parents[2] / "scripts" / "chaos"
SOAK_MINUTES = 2
# Start-up, the day, up to 120 s of convergence, the checks, and a loaded 2-core machine.
BOUND_S = 600


@pytest.mark.timeout(BOUND_S + 60)
def test_a_clinic_day_under_seeded_chaos_converges_with_every_acknowledged_write(
    tmp_path: Path,
) -> None:
    if (reason := skip_reason()) is not None:
        pytest.skip(reason)
    soak = subprocess.Popen(
        [sys.executable, str(CHAOS), "--seed", "1", "--minutes", str(SOAK_MINUTES),
         "--nodes", "5", "--workdir", str(tmp_path / "soak")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = soak.communicate(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        soak.terminate()  # SIGTERM unwinds the soak, whose rig then removes its namespaces
        out, err = soak.communicate(timeout=60)
        pytest.fail(f"the soak ran over {BOUND_S} s:\n{out[-6000:]}\n{err[-3000:]}")
    assert soak.returncode == 0, f"{out[-6000:]}\n{err[-3000:]}"
    assert "RESULT: PASS" in out
