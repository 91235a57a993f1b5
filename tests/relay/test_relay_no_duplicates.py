"""Two devices of one clinic linked to the relay at once do not both send one change: each
pushes its own edits, and what one learnt from the other over the LAN reaches the relay from
its author (or by anti-entropy, where the relay says what it has)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow

PATIENTS = 5



def _connected(node: MeshdProcess) -> bool:
    relay = node.sync_status().get("relay")
    return isinstance(relay, dict) and relay.get("state") == "connected"


DATA_MESSAGES = ("Changes", "Snapshots", "SyncMessages")


def _changes_from(relay: RelayProcess, name: str) -> int | None:
    """How many messages carrying document data the relay took from `name`'s current link."""
    devices = relay.clinic("Clinic A")["devices"]
    return next((sum(int(d["received"].get(kind, 0)) for kind in DATA_MESSAGES)
                 for d in devices if d["name"] == name), None)


def test_an_edit_reaches_the_relay_from_its_author_only(tmp_path: Path, started: list[Any]
                                                        ) -> None:
    relay = RelayProcess(tmp_path).start()
    started.append(relay)
    first_dir, second_dir = make_mesh(tmp_path / "A", 2)
    credential = relay.add_clinic("Clinic A")
    done = meshd("relay-link", "--data-dir", str(first_dir.path), str(credential))
    assert done.returncode == 0, done.stderr
    first = MeshdProcess(first_dir).start([])
    second = MeshdProcess(second_dir).start([first.peer_address])
    started += [first, second]
    for node in (first, second):
        eventually(lambda n=node: _connected(n), 30, "both devices linked")
    eventually(lambda: _changes_from(relay, "node-1") is not None, 10, "relay status of node-1")
    before = _changes_from(relay, "node-1")

    for i in range(PATIENTS):
        status, body = first.call("POST", "/api/v1/patients", {
            "given_name": f"Amani{i}", "family_name": "Kariuki", "sex": "male",
            "birth_date": "1980-01-01"})
        assert status == 201, body
    eventually(lambda: relay.clinic("Clinic A")["charts"] >= PATIENTS, 30, "charts on the relay")
    eventually(lambda: len(second.call("GET", "/api/v1/patients?q=Kariuki")[1]["results"])
               == PATIENTS, 30, "charts on the second device")
    eventually(lambda: (_changes_from(relay, "node-0") or 0) >= PATIENTS, 10, "status updated")
    assert _changes_from(relay, "node-1") == before, "the second device re-sent the first's edits"
