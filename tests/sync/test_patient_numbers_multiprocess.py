"""Two real `meshd` nodes apart each register 50 patients through the API; once they sync,
every chart is on both and every short patient number is unique (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from meshd_procs import eventually
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow
PER_NODE = 50
PATIENT = {"family_name": "Otieno", "sex": "female", "birth_date": "1990-04-02"}


def _numbers(node: MeshdProcess, patients: list[str]) -> dict[str, str] | None:
    """patient id -> number, once every chart is on `node`."""
    found = {}
    for patient in patients:
        status, chart = node.call("GET", f"/api/v1/patients/{patient}")
        if status != 200:
            return None
        found[patient] = chart["number"]
    return found


def test_fifty_patients_each_on_two_nodes_apart_get_unique_numbers(
    tmp_path: Path, procs: list[MeshdProcess]
) -> None:
    a_dir, b_dir = make_mesh(tmp_path, 2)
    a, b = MeshdProcess(a_dir).start([]), MeshdProcess(b_dir).start([])
    procs += [a, b]
    registered: list[str] = []
    for node in (a, b):  # apart: neither knows the other's address
        for i in range(PER_NODE):
            status, body = node.call("POST", "/api/v1/patients",
                                     {**PATIENT, "given_name": f"P{i}"})
            assert status == 201, body
            registered.append(str(body["id"]))
    b.stop()
    b.start([a.peer_address])
    on_a = eventually(lambda: _numbers(a, registered), what="b's charts on a")
    on_b = eventually(lambda: _numbers(b, registered), what="a's charts on b")
    assert on_a == on_b
    assert len(set(on_a.values())) == 2 * PER_NODE and all(on_a.values())
    prefixes = {n.split("-")[0] for n in on_a.values()}
    assert len(prefixes) == 2  # one device code per node
    first_of_b = registered[PER_NODE]
    status, found = a.call("GET", f"/api/v1/patients?q={on_a[first_of_b]}")
    assert status == 200 and found["results"][0]["id"] == first_of_b
