"""A node keeps coming back to its relay: while the relay is down the link says so, and once it
is back (on the same address) the node relinks by itself and sends what changed meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess, relay_state
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow




def test_a_node_relinks_after_the_relay_restarts_and_sends_what_it_missed(
    tmp_path: Path, started: list[Any]
) -> None:
    relay = RelayProcess(tmp_path).start()
    started.append(relay)
    (data,) = make_mesh(tmp_path / "A", 1)
    credential = relay.add_clinic("Clinic A")
    done = meshd("relay-link", "--data-dir", str(data.path), str(credential))
    assert done.returncode == 0, done.stderr
    node = MeshdProcess(data).start([])
    started.append(node)
    eventually(lambda: relay_state(node) == "connected", 30, "relay link")

    relay.stop()
    eventually(lambda: relay_state(node) != "connected", 30, "the link noticed the relay gone")
    status, body = node.call("POST", "/api/v1/patients", {
        "given_name": "Zawadi", "family_name": "Mwangi", "sex": "female",
        "birth_date": "1995-09-09"})
    assert status == 201, body
    relay.start()
    eventually(lambda: relay_state(node) == "connected", 45, "relinked after the restart")
    eventually(lambda: relay.clinic("Clinic A")["charts"] >= 1, 30,
               "the chart written while the relay was down reached it")
    status, body = node.call("GET", "/api/v1/relay/patients?q=Zawadi")
    assert status == 200 and [r["id"] for r in body["results"]], body
