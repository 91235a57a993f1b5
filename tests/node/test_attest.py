"""Signed changes (meshd.attest): a peer's changes are stored only when each actor's latest new
change is signed by the device the actor names; forged, unsigned and re-signed changes are
refused through Documents and nothing is stored."""

from __future__ import annotations

import uuid

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd.attest import Attestor, NotYetProven, keys_by_device, pack, unpack
from meshd.clinic import genesis_for
from meshd.docs import Documents
from meshd.store.memory import MemoryStore
from meshd.sync.crypto import public_bytes

PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}
DOCTOR_DEVICE, TABLET_DEVICE, HERE = (str(uuid.uuid4()) for _ in range(3))


class Mesh:
    """Three rostered devices: the doctor's laptop, a tablet, and this device (the receiver)."""

    def __init__(self) -> None:
        self.doctor_key = Ed25519PrivateKey.generate()
        self.tablet_key = Ed25519PrivateKey.generate()
        self.here_key = Ed25519PrivateKey.generate()
        roster = {
            DOCTOR_DEVICE: {"public_key": public_bytes(self.doctor_key).hex()},
            TABLET_DEVICE: {"public_key": public_bytes(self.tablet_key).hex()},
            HERE: {"public_key": public_bytes(self.here_key).hex()},
        }
        signers = keys_by_device(roster)
        self.doctor = Attestor(self.doctor_key, genesis_for(DOCTOR_DEVICE))
        self.tablet = Attestor(self.tablet_key, genesis_for(TABLET_DEVICE))
        self.here = Attestor(self.here_key, genesis_for(HERE),
                             lambda prefix: signers.get(prefix, set()))


async def _receiver(mesh: Mesh) -> tuple[MemoryStore, Documents]:
    store = MemoryStore()
    await store.start()
    return store, Documents(store, Author(HERE, "system", 0).actor, genesis=genesis_for(HERE),
                            attestor=mesh.here)


def _chart(author: Author) -> tuple[str, Doc]:
    pid = str(uuid.uuid4())
    doc = chart.register_patient(pid, PATIENT, author, "2026-11-29")
    chart.record_allergy(doc, {"substance": "Penicillin", "severity": "severe"}, author, "a1")
    return chart_id(pid), doc


@pytest.mark.asyncio
async def test_a_chart_signed_by_its_authors_device_is_stored_with_its_signatures() -> None:
    mesh = Mesh()
    store, documents = await _receiver(mesh)
    doc_id, doc = _chart(Author(DOCTOR_DEVICE, "dr-ali", 1_000))
    signed = mesh.doctor.sign(doc_id, doc, ())
    assert await documents.apply_remote(doc_id, doc.save(), "peer:tablet", signed)
    assert (await store.attestations([doc_id]))[doc_id] == list(signed)  # to hand on later


@pytest.mark.asyncio
async def test_unsigned_forged_and_wrongly_signed_changes_are_refused() -> None:
    mesh = Mesh()
    store, documents = await _receiver(mesh)
    doctor = Author(DOCTOR_DEVICE, "dr-ali", 1_000)
    doc_id, doc = _chart(doctor)
    with pytest.raises(RefusedChange, match="not signed"):
        await documents.apply_remote(doc_id, doc.save(), "peer:tablet")
    # The tablet writes a note as the doctor's actor and signs it with its own key.
    forged = doc.fork(doctor.actor)
    chart.add_note(forged, {"text": "tolerates penicillin"}, doctor, "n1")
    with pytest.raises(RefusedChange, match="claims device"):
        await documents.apply_remote(doc_id, forged.save(), "peer:tablet",
                                     mesh.tablet.sign(doc_id, forged, ()))
    # A valid signature of the doctor's over another change proves nothing here.
    other_id, other = _chart(doctor)
    with pytest.raises(RefusedChange, match="not signed"):
        await documents.apply_remote(doc_id, doc.save(), "peer:tablet",
                                     mesh.doctor.sign(other_id, other, ()))
    assert await store.read(doc_id) is None and await store.attestations([doc_id]) == {}


@pytest.mark.asyncio
async def test_a_relayed_edit_keeps_its_authors_signature_and_a_later_one_waits() -> None:
    mesh = Mesh()
    store, documents = await _receiver(mesh)
    doctor = Author(DOCTOR_DEVICE, "dr-ali", 1_000)
    doc_id, doc = _chart(doctor)
    signed = mesh.doctor.sign(doc_id, doc, ())
    await documents.apply_remote(doc_id, doc.save(), "peer:tablet", signed)
    base = doc.heads()
    chart.add_note(doc, {"text": "first"}, doctor, "n1")
    first_alone = doc.changes_since(base)
    chart.add_note(doc, {"text": "second"}, doctor, "n2")
    latest = mesh.doctor.sign(doc_id, doc, ())
    # Only the first edit arrives, with the signature of the second: nothing yet, no refusal.
    results = await documents.apply_remote_many(
        [(doc_id, first_alone)], "peer:tablet", {doc_id: latest})
    assert results == [False]
    assert Doc.load(await store.read(doc_id) or b"").heads() == base
    assert await documents.apply_remote(doc_id, doc.changes_since(base), "peer:tablet", latest)
    stored = Doc.load(await store.read(doc_id) or b"")
    assert stored.heads() == doc.heads()


def test_attestations_pack_round_trip_and_garbage_is_refused() -> None:
    mesh = Mesh()
    doc_id, doc = _chart(Author(DOCTOR_DEVICE, "dr-ali", 1_000))
    signed = mesh.doctor.sign(doc_id, doc, ())
    assert unpack(pack(signed)) == list(signed)
    huge_int_as_actor = msgpack.packb([[10**9, 1, b"h" * 32, b"s" * 64]])
    for bad in (b"", b"\x93\x01\x02", pack(signed)[:-3], huge_int_as_actor):
        with pytest.raises(Exception, match="not well formed"):
            unpack(bad)


def test_a_later_signature_for_the_actor_means_not_yet_not_forged() -> None:
    mesh = Mesh()
    doctor = Author(DOCTOR_DEVICE, "dr-ali", 1_000)
    doc_id, doc = _chart(doctor)
    early = doc.history()
    chart.add_note(doc, {"text": "later"}, doctor, "n1")
    with pytest.raises(NotYetProven):
        mesh.here.check(doc_id, early, mesh.doctor.sign(doc_id, doc, ()))


def test_a_vouch_for_history_from_before_signing_counts_only_while_the_window_is_open() -> None:
    """The tablet vouches for a chart the doctor wrote before signing (an upgrade): waited on
    while no window is open, taken while it is, refused once it has closed or when the voucher
    is not a rostered device."""
    mesh = Mesh()
    doc_id, doc = _chart(Author(DOCTOR_DEVICE, "dr-ali", 1))
    new = doc.history()
    vouched = mesh.tablet.vouch(doc_id, new[-1])
    mesh.here.vouching.keys = frozenset({public_bytes(mesh.tablet_key)})

    with pytest.raises(NotYetProven, match="no window"):
        mesh.here.check(doc_id, new, [vouched], now_ms=1_000)
    mesh.here.vouching.until_ms = 2_000
    assert mesh.here.check(doc_id, new, [vouched], now_ms=1_000) == (vouched,)
    with pytest.raises(RefusedChange, match="window has closed"):
        mesh.here.check(doc_id, new, [vouched], now_ms=3_000)
    mesh.here.vouching.keys = frozenset({public_bytes(mesh.doctor_key)})  # tablet revoked
    with pytest.raises(RefusedChange, match="not signed by it"):
        mesh.here.check(doc_id, new, [vouched], now_ms=1_000)
    # A vouch is not a signature: a device's own signature context can't be replayed as one.
    signed = mesh.tablet.attest(doc_id, new[-1])
    mesh.here.vouching.keys = frozenset({public_bytes(mesh.tablet_key)})
    with pytest.raises(RefusedChange, match="not signed by it"):
        mesh.here.check(doc_id, new, [signed], now_ms=1_000)
