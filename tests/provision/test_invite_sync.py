"""Devices provisioned by invite sync with their mesh as real `meshd run` processes on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from meshd_procs import eventually, meshd
from sync_procs import MeshdProcess

from meshd import identity

pytestmark = pytest.mark.slow

PATIENT = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female",
           "birth_date": "1988-07-15"}
CONVERGE_S = 30.0


def _invite(inviter: Path, out: Path, name: str, peer: str) -> dict[str, object]:
    result = meshd("invite", "--data-dir", str(inviter), "--out", str(out), "--name", name,
                   "--peer", peer)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _join(data_dir: Path, invite: Path) -> identity.DataDir:
    result = meshd("init", "--data-dir", str(data_dir), "--invite", str(invite))
    assert result.returncode == 0, result.stderr
    return identity.load_data_dir(data_dir)


def _has_patient(node: MeshdProcess, patient_id: str) -> bool:
    status, body = node.call("GET", f"/api/v1/patients/{patient_id}")
    return status == 200 and body["demographics"]["given_name"] == PATIENT["given_name"]


def test_invited_devices_sync_through_their_inviter(
    tmp_path: Path, procs: list[MeshdProcess]
) -> None:
    desk = MeshdProcess(identity.init_data_dir(tmp_path / "desk", device_name="desk"))
    # Invited while the desk is stopped (written to its store) and while it runs (its API).
    offline = _invite(desk.data.path, tmp_path / "lab.invite", "lab", desk.peer_address)
    procs.append(desk.start([]))
    online = _invite(desk.data.path, tmp_path / "pharmacy.invite", "pharmacy", desk.peer_address)
    assert offline["peers"] == online["peers"] == [desk.peer_address]
    run_log = (desk.data.path / "test-run.log").read_text()
    assert "POST /api/v1/devices/invite" in run_log  # through the running node, not its store

    lab = MeshdProcess(_join(tmp_path / "lab", tmp_path / "lab.invite"))
    pharmacy = MeshdProcess(_join(tmp_path / "pharmacy", tmp_path / "pharmacy.invite"))
    assert lab.data.identity.device_id == offline["device"]
    again = {"device_id": offline["device"], "name": "lab", "public_key": "ab" * 32}
    assert desk.call("POST", "/api/v1/devices/invite", again)[0] == 409  # already rostered
    status, body = desk.call("POST", "/api/v1/devices/invite", {**again, "public_key": "xyz"})
    assert (status, json.loads(body)["field"]) == (400, "public_key")
    assert lab.data.identity.device_name == "lab"
    for node in (lab, pharmacy):
        procs.append(node.start([]))  # no --peer: they dial the invite's peers

    status, body = lab.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, body
    from_lab = str(body["id"])
    eventually(lambda: _has_patient(pharmacy, from_lab) and _has_patient(desk, from_lab),
               CONVERGE_S)
    status, body = pharmacy.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, body
    eventually(lambda: _has_patient(lab, str(body["id"])), CONVERGE_S)
    connected = {p["device_name"] for p in desk.sync_status()["peers"] if p["connected"]}
    assert connected == {"lab", "pharmacy"}
