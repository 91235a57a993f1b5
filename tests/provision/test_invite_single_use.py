"""An invite works once and until it expires: a second copy, or a late one, gets nothing (real
`meshd run` processes on loopback, issue 10)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from meshd_procs import eventually, meshd
from sync_procs import MeshdProcess

from meshd import enrolment, identity

PATIENT = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female",
           "birth_date": "1988-07-15"}
CONVERGE_S = 30.0
REFUSED_WITHIN_S = 15.0
SHORT_INVITE_HOURS = 12 / 3600  # twelve seconds: `meshd init` must run in time on a busy machine


def _inviter(tmp_path: Path, procs: list[MeshdProcess]) -> tuple[MeshdProcess, str]:
    """A running desk with one patient: the node and the patient's id."""
    made = meshd("init", "--data-dir", str(tmp_path / "desk"), "--name", "desk")
    assert made.returncode == 0, made.stderr
    desk = MeshdProcess(identity.load_data_dir(tmp_path / "desk"))
    procs.append(desk.start([]))
    status, body = desk.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, body
    return desk, str(body["id"])


def _invite(desk: MeshdProcess, out: Path, *extra: str) -> None:
    result = meshd("invite", "--data-dir", str(desk.data.path), "--out", str(out), "--name",
                   "lab", "--peer", desk.peer_address, *extra)
    assert result.returncode == 0, result.stderr


def _init(data_dir: Path, invite: Path) -> MeshdProcess:
    result = meshd("init", "--data-dir", str(data_dir), "--invite", str(invite))
    assert result.returncode == 0, result.stderr
    return MeshdProcess(identity.load_data_dir(data_dir))


def _gets_nothing(node: MeshdProcess, patient: str) -> None:
    """The node dials its inviter and is refused, twice (so not by a passing hiccup)."""
    eventually(lambda: node.log().count("handshake with") >= 2, REFUSED_WITHIN_S,
               "the inviter refusing the device")
    assert node.call("GET", f"/api/v1/patients/{patient}")[0] == 404
    assert not [p for p in node.sync_status()["peers"] if p["connected"]]


def _lab(desk: MeshdProcess) -> dict[str, object]:
    """The invited device's row in the desk's roster."""
    roster = json.loads(meshd("devices", "--data-dir", str(desk.data.path), "--json").stdout)
    return dict(next(d for d in roster["devices"] if d["name"] == "lab"))


def _has(node: MeshdProcess, patient: str) -> bool:
    return node.call("GET", f"/api/v1/patients/{patient}")[0] == 200


def test_an_invite_used_twice_serves_only_the_first_device(
    tmp_path: Path, procs: list[MeshdProcess],
) -> None:
    desk, patient = _inviter(tmp_path, procs)
    _invite(desk, tmp_path / "lab.invite")
    first = _init(tmp_path / "lab", tmp_path / "lab.invite")
    second = _init(tmp_path / "lab-copy", tmp_path / "lab.invite")  # the same file, again

    procs.append(first.start([]))
    eventually(lambda: _has(first, patient), CONVERGE_S, "the patient on the invited device")
    assert enrolment.invite_key(first.data) is None  # spent at its first handshake
    for node in (desk, first):  # the invited device takes its inviter's word for it too
        eventually(lambda node=node: _lab(node)["invite"] is None, CONVERGE_S,
                   f"the invite marked used on {node.data.identity.device_name}")
    assert not _lab(desk)["revoked"]
    assert first.sync_status()["quarantined"] == 0

    procs.append(second.start([]))
    _gets_nothing(second, patient)
    status, body = first.call("POST", "/api/v1/patients", {**PATIENT, "given_name": "Baraka"})
    assert status == 201, body
    eventually(lambda: _has(desk, str(body["id"])), CONVERGE_S, "the first device still syncs")


def test_an_invite_used_after_it_expired_gets_nothing(
    tmp_path: Path, procs: list[MeshdProcess],
) -> None:
    desk, patient = _inviter(tmp_path, procs)
    _invite(desk, tmp_path / "late.invite", "--expires-hours", str(SHORT_INVITE_HOURS))
    late = _init(tmp_path / "late", tmp_path / "late.invite")  # in time for init...
    time.sleep(SHORT_INVITE_HOURS * 3600 + 1)  # ...but it runs after the invite expired
    assert _lab(desk)["invite"] == "invite expired"
    procs.append(late.start([]))
    _gets_nothing(late, patient)
