"""What the relay refuses, with real processes on loopback: a clinic's credential reads nothing
of another clinic's, a credential mixed from two clinics or revoked gets nothing, and a forged
(unsigned) change a clinic device sends is refused as on any node."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess, relay_state
from sync_procs import AT_MS, MeshdProcess, make_mesh

from crdt_model import chart
from crdt_model.context import Author
from crdt_model.ids import chart_id
from crdt_model.sample import build_sample_chart
from meshd import identity
from meshd.clinic import project
from meshd.signing_upgrade import DONE_FILE
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore

pytestmark = pytest.mark.slow

SETTLE_S = 3.0  # a few sync exchanges, to show that something did NOT arrive




def _forge_unsigned_chart(data: identity.DataDir, given_name: str) -> str:
    """Store a chart whose changes claim this device but carry no signature; its patient id."""
    patient = str(uuid.uuid4())
    author = Author(data.identity.device_id, "system", AT_MS)
    doc = build_sample_chart(patient, author, random.Random(3))
    chart.update_demographics(doc, {"given_name": given_name}, author, "forged", "2025-11-22")

    async def write() -> None:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data)) as store:
            doc_id = chart_id(patient)
            await store.write([DocWrite(doc_id, doc.save(), tuple(doc.heads()),
                                        project(doc_id, doc), True, ())])

    asyncio.run(write())
    # Slipped in after this device's one-time signing of history from before signing
    # (meshd.signing_upgrade), which would otherwise sign it as this device's own old change.
    (data.path / DONE_FILE).write_text("0\n")
    return patient


def _search(node: MeshdProcess, text: str) -> list[dict[str, Any]]:
    status, body = node.call("GET", f"/api/v1/relay/patients?q={text}")
    assert status == 200, body
    return list(body["results"])


def _local(node: MeshdProcess, text: str) -> list[dict[str, Any]]:
    status, body = node.call("GET", f"/api/v1/patients?q={text}")
    assert status == 200, body
    return list(body["results"])


def test_credentials_reach_only_their_own_clinic_and_forged_changes_are_refused(
    tmp_path: Path, started: list[Any]
) -> None:
    relay = RelayProcess(tmp_path).start()
    started.append(relay)
    a_dirs = make_mesh(tmp_path / "A", 2)
    (b_dir,) = make_mesh(tmp_path / "B", 1)
    forged = _forge_unsigned_chart(a_dirs[0], "Mallory")
    a_cred, b_cred = relay.add_clinic("Clinic A"), relay.add_clinic("Clinic B")
    for data, credential in ((a_dirs[0], a_cred), (b_dir, b_cred)):  # linked while stopped
        done = meshd("relay-link", "--data-dir", str(data.path), str(credential))
        assert done.returncode == 0, done.stderr
    a0 = MeshdProcess(a_dirs[0]).start([])
    a1 = MeshdProcess(a_dirs[1]).start([a0.peer_address])
    b0 = MeshdProcess(b_dir).start([])
    started += [a0, a1, b0]
    for node in (a0, a1, b0):
        eventually(lambda n=node: relay_state(n) == "connected", 30, "relay link")

    # Clinic B registers a patient; clinic A can find her but holds nothing of B's until a pull.
    status, body = b0.call("POST", "/api/v1/patients", {
        "given_name": "Baraka", "family_name": "Otieno", "sex": "male",
        "birth_date": "2001-06-01"})
    assert status == 201, body
    status, body = a0.call("POST", "/api/v1/patients", {
        "given_name": "Imani", "family_name": "Said", "sex": "female",
        "birth_date": "2003-02-02"})
    assert status == 201, body
    eventually(lambda: _search(a1, "Baraka"), 30, "B's patient on the relay")
    assert [r["clinic"] for r in eventually(lambda: _search(b0, "Imani"), 30,
                                            "A's patient on the relay")] == ["Clinic A"]
    # The forged chart of A's device is refused on the relay, as on A's other device.
    eventually(lambda: relay.clinic("Clinic A")["errors"] >= 1, 30, "the refusal counted")
    assert "not signed" in (relay.clinic("Clinic A")["last_error"] or "")
    time.sleep(SETTLE_S)  # to show that nothing arrives, some exchanges must have happened
    assert _local(a0, "Baraka") == [] and _local(a1, "Baraka") == []
    assert _local(b0, "Imani") == [], "clinic A's data reached clinic B unasked"
    assert [r for r in _search(b0, "Mallory") if r["id"] == forged] == []
    assert _local(a1, "Mallory") == []

    # A credential made of clinic B's id and clinic A's secret opens nothing.
    a_secret = json.loads(a_cred.read_text())["secret"]
    mixed = json.loads(b_cred.read_text()) | {"secret": a_secret}
    b_id = mixed["clinic_id"]
    assert relay.call("GET", "/relay/v1/patients?q=Baraka", f"{b_id}.{a_secret}")[0] == 401
    status, _ = a0.call("POST", "/api/v1/relay/link", {"credential": mixed})
    assert status == 200
    eventually(lambda: relay.clinic("Clinic B")["errors"] >= 1, 30,
               "the mixed credential's link refused by B's space")
    assert relay_state(a0) != "connected" and relay_state(a1) != "connected"
    status, _ = a0.call("POST", "/api/v1/relay/link",
                        {"credential": json.loads(a_cred.read_text())})
    assert status == 200
    for node in (a0, a1):
        eventually(lambda n=node: relay_state(n) == "connected", 30, "A's own credential back")
    # A's own credential can't open B's sync space either (B is bound to B's mesh).
    a_id = json.loads(a_cred.read_text())["clinic_id"]
    assert relay.call("GET", "/relay/v1/patients?q=Baraka", f"{a_id}.{a_secret}")[0] == 200
    status, body = relay.call("GET", f"/relay/v1/sync/{b_id}?mesh={a_dirs[0].identity.mesh_id}")
    assert status == 403, body

    # A revoked credential gets nothing: the link drops and the API refuses it.
    revoked = meshd("relay", "revoke-clinic", "--data-dir", str(relay.data_dir), "Clinic B")
    assert revoked.returncode == 0, revoked.stderr
    eventually(lambda: relay_state(b0) != "connected", 30, "the revoked link dropped")
    status, body = b0.call("GET", "/api/v1/relay/patients?q=Wanjiru")
    assert status == 401, body
    status, body = b0.call("POST", "/api/v1/patients", {
        "given_name": "Neema", "family_name": "Juma", "sex": "female",
        "birth_date": "1999-01-01"})
    assert status == 201, body
    time.sleep(SETTLE_S)
    assert _search(a1, "Neema") == []
    assert relay.clinic("Clinic B")["revoked"] is True
    assert relay_state(b0) != "connected"
