"""Whose signature proves another clinic's change (docs/ARCHITECTURE.md §5 "Relay"): the
relay's key from the credential vouches for devices the clinic's directory does not list, and
never for one it does."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd.attest import Attestor, keys_by_device
from meshd.clinic import genesis_for
from meshd.docs import Documents
from meshd.relay.credential import with_relay
from meshd.store.memory import MemoryStore
from meshd.sync.crypto import public_bytes

PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}
HERE, COLLEAGUE, FOREIGN = (str(uuid.uuid4()) for _ in range(3))


async def _clinic_b_device(relay_key: bytes | None) -> tuple[Documents, Ed25519PrivateKey]:
    """A device of clinic B (HERE, with COLLEAGUE on its roster) that trusts `relay_key`."""
    here, colleague = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    roster = keys_by_device({HERE: {"public_key": public_bytes(here).hex()},
                             COLLEAGUE: {"public_key": public_bytes(colleague).hex()}})
    keys_for = with_relay(lambda prefix: roster.get(prefix, set()),
                          lambda: {relay_key} if relay_key else set())
    store = MemoryStore()
    await store.start()
    attestor = Attestor(here, genesis_for(HERE), keys_for)
    return Documents(store, Author(HERE, "system", 0).actor, genesis=genesis_for(HERE),
                     attestor=attestor), colleague


def _chart_by(device: str) -> tuple[str, Doc]:
    patient = str(uuid.uuid4())
    return chart_id(patient), chart.register_patient(
        patient, PATIENT, Author(device, "nurse", 1_000), "2026-11-29")


@pytest.mark.asyncio
async def test_the_relays_signature_proves_another_clinics_device() -> None:
    relay = Ed25519PrivateKey.generate()
    documents, _ = await _clinic_b_device(public_bytes(relay))
    doc_id, doc = _chart_by(FOREIGN)
    countersigned = Attestor(relay, genesis_for("relay")).sign(doc_id, doc, ())
    assert await documents.apply_remote(doc_id, doc.save(), "relay", countersigned)


@pytest.mark.asyncio
async def test_the_relay_can_not_sign_for_the_clinics_own_devices() -> None:
    relay = Ed25519PrivateKey.generate()
    documents, _ = await _clinic_b_device(public_bytes(relay))
    doc_id, doc = _chart_by(COLLEAGUE)
    countersigned = Attestor(relay, genesis_for("relay")).sign(doc_id, doc, ())
    with pytest.raises(RefusedChange, match="claims device"):
        await documents.apply_remote(doc_id, doc.save(), "relay", countersigned)


@pytest.mark.asyncio
async def test_without_a_relay_credential_or_with_another_key_a_foreign_change_is_refused(
) -> None:
    relay, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    for trusted, signer in ((None, relay), (public_bytes(relay), stranger)):
        documents, _ = await _clinic_b_device(trusted)
        doc_id, doc = _chart_by(FOREIGN)
        signed = Attestor(signer, genesis_for("relay")).sign(doc_id, doc, ())
        with pytest.raises(RefusedChange):
            await documents.apply_remote(doc_id, doc.save(), "relay", signed)
