"""`meshd run --hint` (issue 16): addresses known as mDNS would give them, dialed only when
chosen within `--max-peers`, unlike `--peer`, which is always dialed."""

from __future__ import annotations

from pathlib import Path

from meshd_procs import eventually
from sync_procs import MeshdProcess, make_mesh

CONNECT_S = 30.0
PATIENT = {"given_name": "Imani", "family_name": "Otieno", "sex": "female",
           "estimated_age_years": 30}


def _connected(proc: MeshdProcess) -> int:
    return sum(p["connected"] for p in proc.sync_status()["peers"])


def test_hints_are_dialed_within_the_bound_and_peers_always(tmp_path: Path) -> None:
    a, b, hinted, pinned = (MeshdProcess(d) for d in make_mesh(tmp_path, 4))
    started = [a.start([]), b.start([])]
    try:
        started.append(hinted.start([], ["--max-peers", "1", "--hint", a.peer_address,
                                          "--hint", b.peer_address]))
        started.append(pinned.start([a.peer_address, b.peer_address], ["--max-peers", "1"]))
        eventually(lambda: _connected(hinted) == 1 and _connected(pinned) == 2, CONNECT_S,
                   "one session from the hints, both pinned peers")
        status, body = hinted.call("POST", "/api/v1/patients", PATIENT)
        assert status == 201, body
        eventually(lambda: all(p.call("GET", f"/api/v1/patients/{body['id']}")[0] == 200
                               for p in (a, b, pinned)), CONNECT_S,
                   "the hinted node's patient on every node")
        assert _connected(hinted) == 1  # still within its bound
    finally:
        for proc in started:
            proc.stop()
