"""scripts/bench/compare on 300 charts: both clinicmesh and PouchDB end up holding every chart
and every edit, through the one byte-counting proxy, and the figures are sane. The PouchDB side
is installed from the npm registry: a machine where that fails fails this test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

COMPARE = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "compare"
CHARTS, EDITS = 300, 20

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)  # a first run installs the pinned npm packages
def test_both_sides_replicate_every_chart_and_edit_with_sane_figures(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    done = subprocess.run([sys.executable, str(COMPARE), "--charts", str(CHARTS), "--edits",
                           str(EDITS), "--json", str(out)],
                          capture_output=True, text=True, timeout=840, check=False)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    result = json.loads(out.read_text())
    figures = {f["name"]: f["value"] for f in result["figures"]}

    def figure(prefix: str, side: str) -> float:
        return next(v for k, v in figures.items() if k.startswith(prefix) and k.endswith(side))

    stored_mb = figures["charts as saved Automerge documents"]
    json_mb = figures["the same charts as compact JSON"]
    assert 300 * 500 / 1e6 < stored_mb < json_mb  # realistic charts, Automerge smaller than JSON
    for side in ("clinicmesh", "PouchDB"):
        assert 0.1 < figure("initial sync of 300 charts", side) < 120
        for q in ("p50", "p95", "p99"):
            assert 0 < figure(f"edit visible on the other side ({EDITS} edits), {q}", side) < 10_000
        assert 50 < figure("bytes on the wire per edit", side) < 100_000
        assert all(10 < v < 2000 for k, v in figures.items()
                   if k.startswith("peak RSS") and k.endswith(side))
    # Every chart crossed the proxy: the saved documents (columns inflated, meshd.wire_columns,
    # then zstd-packed in bulk: about 0.2-0.35 of their stored size) for clinicmesh, gzipped
    # JSON for PouchDB.
    assert figure("  bytes on the wire", "clinicmesh") >= 0.1 * stored_mb
    assert json_mb / 20 < figure("  bytes on the wire", "PouchDB") < json_mb * 3
    # meshd dialled through the proxy only: its own count of the link is within the proxy's.
    own = figures["meshd's own byte counters, initial sync"]
    assert 0.1 * stored_mb <= own <= figure("  bytes on the wire", "clinicmesh")
    ratio = figures["initial sync of 300 charts, from the empty side's process start: "
                    "ratio clinicmesh/PouchDB (x)"]
    assert ratio == pytest.approx(figure("initial sync of 300 charts", "clinicmesh")
                                  / figure("initial sync of 300 charts", "PouchDB"), rel=1e-3)
    assert "ratio" in done.stdout and "PouchDB" in done.stdout
