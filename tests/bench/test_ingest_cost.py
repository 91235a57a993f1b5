"""scripts/bench/ingest_cost on a few charts: every stage of receiving a chart is measured, the
sums add up, and the lower bound is the sum spread over this machine's cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

INGEST_COST = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "ingest_cost"
STAGES = 10


@pytest.mark.timeout(300)
def test_every_stage_is_measured_and_the_bound_is_their_sum_over_the_cores(
        tmp_path: Path) -> None:
    out = tmp_path / "ingest_cost.json"
    done = subprocess.run([sys.executable, str(INGEST_COST), "--charts", "40", "--sync-charts",
                           "1000", "--json", str(out)],
                          capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = {f["name"]: f["value"] for f in json.loads(out.read_text())["figures"]}
    stages = [v for k, v in figures.items() if k.endswith("(ms a chart)")
              and not k.startswith(("all stages", "the Automerge binding"))]
    assert len(stages) == STAGES and all(0 < v < 100 for v in stages)
    total = figures["all stages (ms a chart)"]
    binding = figures["the Automerge binding: load, history, read (ms a chart)"]
    assert total == pytest.approx(sum(stages), abs=0.01)
    assert 0 < binding < total
    cores = os.cpu_count() or 1
    bound = figures[f"lower bound for 1000 charts on {cores} cores, all stages"]
    assert bound == pytest.approx(1000 * total / 1000 / cores, rel=0.01, abs=0.01)
