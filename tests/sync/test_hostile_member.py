"""A rostered device that turns hostile, against a real `meshd` node: what it sends against a
chart's rules is refused, nothing changes there, and the node names the device that sent it.

The hostile device runs the production sync engine in this process (it speaks the real wire
protocol and handshake, with a rostered device key) over in-memory documents it edits freely.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import MESHD, eventually
from sync_procs import AT_MS, MeshdProcess, make_mesh, store_docs

from crdt_model import chart, directory
from crdt_model.adapter import Tx
from crdt_model.context import Author
from crdt_model.ids import chart_id, directory_id
from meshd.attest import Attestor
from meshd.clinic import genesis_for
from meshd.identity import DataDir
from meshd.membership.local_store import open_documents
from meshd.store.base import Attestation
from meshd.sync import Credentials, SyncEngine, SyncTiming, WebSocketTransport
from meshd.sync.fakes import MemoryDocuments

TIMING = SyncTiming(anti_entropy_interval_s=1.0, reconnect_min_s=0.05, reconnect_max_s=0.5)
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}


class SigningDocuments(MemoryDocuments):
    """The hostile device's documents: it signs every change with its own (rostered) key."""

    def __init__(self, attestor: Attestor) -> None:
        super().__init__(os.urandom(16))
        self.attestor = attestor

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        return {d: list(self.attestor.sign(d, self.docs[d], ())) for d in doc_ids
                if d in self.docs}


async def _attack(node: MeshdProcess, hostile_dir: DataDir, doc_id: str,
                  edit: Callable[[Tx], None], actor: bytes | None = None) -> None:
    """Take the chart from the node, make `edit` to it (as `actor` when given: a forgery),
    push the change back."""
    honest_key = node.data.device_public_key()
    docs = SigningDocuments(Attestor(hostile_dir.device_key, genesis_for("x")))
    engine = SyncEngine(
        Credentials(hostile_dir.device_key, "stolen-tablet", hostile_dir.mesh_key,
                    lambda: frozenset({honest_key})),
        docs, WebSocketTransport("127.0.0.1", 0), peers=[node.peer_address], timing=TIMING,
    )
    arrived = asyncio.Event()
    docs.subscribe(lambda change: arrived.set() if change.doc_id == doc_id else None)
    await engine.start()
    try:
        await asyncio.wait_for(arrived.wait(), 20)  # the chart reached the hostile device
        if actor is not None:
            docs.docs[doc_id].set_actor(actor)
        docs.edit(doc_id, edit)
        await asyncio.sleep(2.0)  # let the push and a round of anti-entropy reach the node
    finally:
        await engine.stop()


def test_a_member_deleting_an_allergy_is_refused_and_named(tmp_path: Path) -> None:
    honest_dir, hostile_dir = make_mesh(tmp_path, 2)
    nurse = Author(honest_dir.identity.device_id, "nurse", AT_MS)
    patient = str(uuid.uuid4())
    doc = chart.register_patient(patient, PATIENT, nurse, "2026-11-29")
    chart.record_allergy(doc, {"substance": "Penicillin", "severity": "severe"}, nurse, "a1")
    store_docs(honest_dir, {chart_id(patient): doc})
    node = MeshdProcess(honest_dir).start([])
    try:
        asyncio.run(_attack(node, hostile_dir, chart_id(patient),
                            lambda tx: tx.delete(("entries",), "a1")))
        eventually(lambda: node.sync_status()["quarantine"] != [], 15)
        refused = node.sync_status()["quarantine"][0]
        assert refused["device_name"] == "stolen-tablet"
        assert refused["device_key"] == hostile_dir.device_public_key().hex()
        assert refused["doc_id"] == chart_id(patient) and "deleted" in refused["reason"]
        status, body = node.call("GET", f"/api/v1/patients/{patient}")
        assert status == 200
        assert [a["substance"] for a in body["allergies"]] == ["Penicillin"]
        # `meshd status` shows the same list for the clinic's IT volunteer.
        report = subprocess.run(
            [str(MESHD), "status", "--data-dir", str(honest_dir.path), "--json"],
            capture_output=True, text=True, timeout=60, check=True,
        )
        shown = json.loads(report.stdout)["quarantine"]
        assert shown[0]["device_name"] == "stolen-tablet"
    finally:
        node.stop()


def test_a_member_writing_as_another_devices_doctor_is_refused_and_named(
    tmp_path: Path,
) -> None:
    honest_dir, hostile_dir = make_mesh(tmp_path, 2)
    doctor = Author(honest_dir.identity.device_id, "dr-ali", AT_MS)
    patient = str(uuid.uuid4())
    doc = chart.register_patient(patient, PATIENT, doctor, "2026-11-29")
    store_docs(honest_dir, {chart_id(patient): doc})
    node = MeshdProcess(honest_dir).start([])
    try:
        note = {"kind": "note", "at": AT_MS, "text": "tolerates penicillin", "by": "dr-ali"}

        def as_the_doctor(tx: Tx) -> None:
            tx.put(("entries",), "n1", note)

        asyncio.run(_attack(node, hostile_dir, chart_id(patient), as_the_doctor, doctor.actor))
        eventually(lambda: node.sync_status()["quarantine"] != [], 15)
        refused = node.sync_status()["quarantine"][0]
        assert refused["device_name"] == "stolen-tablet"
        assert "not signed by it" in refused["reason"]
        status, body = node.call("GET", f"/api/v1/patients/{patient}")
        assert status == 200 and "tolerates" not in json.dumps(body)
    finally:
        node.stop()




def test_a_member_signing_a_note_that_names_the_doctor_as_author_is_refused(
    tmp_path: Path,
) -> None:
    """Signed with its own key, under its own actor, but the note's author fields name the
    doctor of another device: history would show her, so the change is refused."""
    honest_dir, hostile_dir = make_mesh(tmp_path, 2)
    doctor = Author(honest_dir.identity.device_id, "dr-ali", AT_MS)
    patient = str(uuid.uuid4())
    store_docs(honest_dir, {chart_id(patient): chart.register_patient(
        patient, PATIENT, doctor, "2026-11-29")})
    node = MeshdProcess(honest_dir).start([])
    try:
        note = {"kind": "note", "at": AT_MS, "text": "tolerates penicillin", **doctor.stamp()}
        asyncio.run(_attack(node, hostile_dir, chart_id(patient),
                            lambda tx: tx.put(("entries",), "n1", note)))
        eventually(lambda: node.sync_status()["quarantine"] != [], 15)
        refused = node.sync_status()["quarantine"][0]
        assert refused["device_name"] == "stolen-tablet"
        assert "who did not write it" in refused["reason"]
        status, body = node.call("GET", f"/api/v1/patients/{patient}")
        assert status == 200 and "tolerates" not in json.dumps(body)
    finally:
        node.stop()

ADMIN = {"name": "Eve", "roles": ["admin"], "pin_hash": "scrypt$0000", "disabled": False}


def _directory(data: DataDir, write: Callable[[Any], object] | None = None) -> dict[str, Any]:
    """The data dir's directory (after `write`, made on this device, when given)."""

    async def run() -> dict[str, Any]:
        async with open_documents(data, None) as documents:
            doc_id = directory_id(data.identity.mesh_id)
            if write is not None:
                await documents.update(doc_id, write)
            return dict(await documents.read(doc_id, lambda doc: doc.to_dict()))

    return asyncio.run(run())


NOT_ADMIN = "is not an admin device"


@pytest.mark.parametrize(("attack", "reason"), [
    (lambda me: lambda tx: tx.put(("users",), "eve", ADMIN), NOT_ADMIN),
    (lambda me: lambda tx: tx.put(("users", "admin1"), "pin_hash", "scrypt$0000"), NOT_ADMIN),
    (lambda me: lambda tx: tx.put(("devices",), "5d" * 8, {
        "name": "shadow", "public_key": "12" * 32, "added_by": "5d" * 8, "revoked_at": None}),
     NOT_ADMIN),
    (lambda me: lambda tx: tx.put(("devices", me), "admin", True), NOT_ADMIN),
    (lambda me: lambda tx: tx.put(("settings",), "relay", "wss://elsewhere.example"), NOT_ADMIN),
    (lambda me: lambda tx: tx.put(("devices", "cc" * 8), "revoked_at", None), "was undone"),
], ids=["admin-user", "admin-pin", "shadow-device", "self-promotion", "settings", "unrevoke"])
def test_a_member_cannot_make_itself_an_admin_or_plant_a_device(
    tmp_path: Path, attack: Callable[[str], Callable[[Tx], None]], reason: str,
) -> None:
    """Users, devices and settings change only on an admin device (the founder here), and a
    revocation is never undone: a rostered tablet signing such a directory change is refused,
    named, and changes nothing."""
    honest_dir, hostile_dir = make_mesh(tmp_path, 2)
    admin = Author(honest_dir.identity.device_id, "admin1", AT_MS)

    def set_up(doc: Any) -> None:
        directory.add_user(
            doc, "admin1", {"name": "Ada", "roles": ["admin"], "pin_hash": "scrypt$ada"}, admin)
        directory.revoke_device(doc, "cc" * 8, admin)  # a lost tablet, for "unrevoke"

    before = _directory(honest_dir, set_up)
    doc_id = directory_id(honest_dir.identity.mesh_id)
    node = MeshdProcess(honest_dir).start([])
    try:
        asyncio.run(_attack(node, hostile_dir, doc_id, attack(hostile_dir.identity.device_id)))
        eventually(lambda: node.sync_status()["quarantine"] != [], 15)
        refused = node.sync_status()["quarantine"][0]
        assert refused["device_name"] == "stolen-tablet" and refused["doc_id"] == doc_id
        assert reason in refused["reason"]
    finally:
        node.stop()
    assert _directory(honest_dir) == before


def test_the_honest_nodes_keep_syncing_with_each_other_while_a_member_attacks(
    tmp_path: Path,
) -> None:
    """Two honest nodes and a rostered tablet turned hostile, attached to the first: its forged
    admin user is refused and named there and never reaches the second, and the honest nodes'
    own writes keep flowing both ways."""
    first_dir, second_dir, hostile_dir = make_mesh(tmp_path, 3)
    patient = str(uuid.uuid4())
    nurse = Author(first_dir.identity.device_id, "nurse", AT_MS)
    store_docs(first_dir, {chart_id(patient): chart.register_patient(
        patient, PATIENT, nurse, "2026-11-29")})
    first = MeshdProcess(first_dir).start([])
    second = MeshdProcess(second_dir).start([first.peer_address])
    try:
        eventually(lambda: second.call("GET", f"/api/v1/patients/{patient}")[0] == 200, 20)
        doc_id = directory_id(first_dir.identity.mesh_id)
        asyncio.run(_attack(first, hostile_dir, doc_id,
                            lambda tx: tx.put(("users",), "eve", ADMIN)))
        eventually(lambda: first.sync_status()["quarantine"] != [], 15)
        assert first.sync_status()["quarantine"][0]["device_name"] == "stolen-tablet"
        for writer, reader, text in ((second, first, "from the second"),
                                     (first, second, "from the first")):
            status, _ = writer.call("POST", f"/api/v1/patients/{patient}/notes", {"text": text})
            assert status == 201
            eventually(lambda reader=reader, text=text: text in json.dumps(
                reader.call("GET", f"/api/v1/patients/{patient}")[1]), 20)
        for node in (first, second):
            assert "eve" not in json.dumps(node.call("GET", "/api/v1/users")[1])
    finally:
        second.stop()
        first.stop()
