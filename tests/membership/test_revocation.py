"""Revoking a device with real `meshd` processes: refused everywhere, the rest keep syncing.

Devices join by code (the new device's side in-process, the inviter a real node). The revoked
device is refused by every peer and never receives a chart written after the revocation; a
device that was offline during the rotation comes back, adopts the new key and syncs.
"""

from __future__ import annotations

import json
from pathlib import Path

from membership_procs import Meshd
from meshd_procs import eventually, meshd

from meshd.identity import read_keyring
from meshd.membership.joining import join_mesh

SYNC_TIMEOUT_S = 30.0


def _join(inviter: Meshd, data_dir: Path, name: str) -> Meshd:
    join_mesh(data_dir, inviter.open_pairing(), peers=[inviter.peer_address], device_name=name)
    return Meshd(data_dir)


def _refused(node: Meshd) -> int:
    return int(node.call("GET", "/api/v1/sync/status")[1]["handshakes_refused"])


def test_a_revoked_device_is_refused_and_the_rest_keep_syncing_with_a_new_key(
    tmp_path: Path, procs: list[Meshd]
) -> None:
    assert meshd("init", "--data-dir", str(tmp_path / "a"), "--name", "reception").returncode == 0
    a = Meshd(tmp_path / "a").start()
    procs.append(a)
    b, c, lost = (_join(a, tmp_path / n, n) for n in ("triage", "lab", "lost-tablet"))
    procs.extend([b.start(), c.start(b.peer_address), lost.start(b.peer_address)])
    before = a.register()
    for node in (b, c, lost):
        eventually(lambda node=node: node.has_patient(before), SYNC_TIMEOUT_S, "first sync")
    c.stop()  # the lab's laptop is off while the tablet is revoked

    revoked = meshd("revoke", "--data-dir", str(a.data_dir), "lost-tablet")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["epoch"] == 1
    assert json.loads(revoked.stdout)["sealed_to"] == 3  # reception, triage and the lab
    eventually(lambda: 1 in read_keyring(b.data_dir), SYNC_TIMEOUT_S, "triage adopting epoch 1")
    eventually(lambda: lost.connected() == 0, SYNC_TIMEOUT_S, "the revoked device cut off")
    refused_a, refused_b = _refused(a), _refused(b)
    eventually(lambda: _refused(a) > refused_a and _refused(b) > refused_b, SYNC_TIMEOUT_S,
               "both online peers refusing the revoked device's redial")

    after = a.register(given_name="Neema")
    eventually(lambda: b.has_patient(after), SYNC_TIMEOUT_S, "the new chart on triage")
    from_lost = lost.register(given_name="Intruder")
    refused_a, refused_b = _refused(a), _refused(b)
    eventually(lambda: _refused(a) > refused_a and _refused(b) > refused_b, SYNC_TIMEOUT_S,
               "the revoked device refused again")
    assert not lost.has_patient(after)
    assert not a.has_patient(from_lost) and not b.has_patient(from_lost)

    c.start(a.peer_address, b.peer_address)  # back on, still holding only the old key
    eventually(lambda: c.has_patient(after), SYNC_TIMEOUT_S, "the returning lab catching up")
    assert sorted(read_keyring(c.data_dir)) == [0, 1]
    from_c = c.register(given_name="Zawadi")
    eventually(lambda: a.has_patient(from_c) and b.has_patient(from_c), SYNC_TIMEOUT_S,
               "the lab's new chart on the others")
    assert not lost.has_patient(from_c)

    roster = json.loads(meshd("devices", "--data-dir", str(b.data_dir), "--json").stdout)
    status = {row["name"]: row["revoked"] for row in roster["devices"]}
    assert status == {"reception": False, "triage": False, "lab": False, "lost-tablet": True}
    assert roster["key_epoch"] == 1
