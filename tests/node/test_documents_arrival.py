"""Documents refuses a peer's changes that break a document's rules: nothing is stored."""

from __future__ import annotations

import os
import uuid

import pytest

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd import remote_changes
from meshd.docs import Documents
from meshd.store.memory import MemoryStore

NURSE = Author("aa" * 8, "01" * 8, 1_763_800_000_000)
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}


async def _node_with_chart() -> tuple[MemoryStore, Documents, str, Doc]:
    store = MemoryStore()
    await store.start()
    documents = Documents(store, os.urandom(16))
    pid = str(uuid.uuid4())
    doc = chart.register_patient(pid, PATIENT, NURSE, "2026-11-29")
    chart.record_allergy(doc, {"substance": "Penicillin", "severity": "severe"}, NURSE, "a1")
    await documents.create(chart_id(pid), doc.fork(NURSE.actor))
    return store, documents, chart_id(pid), doc


@pytest.mark.asyncio
async def test_a_peer_deleting_an_allergy_is_refused_and_nothing_is_stored() -> None:
    store, documents, doc_id, doc = await _node_with_chart()
    try:
        before = await store.read(doc_id)
        attack = doc.fork(os.urandom(16))
        attack.change(lambda tx: tx.delete(("entries",), "a1"))
        with pytest.raises(RefusedChange, match="deleted"):
            await documents.apply_remote(doc_id, attack.changes_since(doc.heads()), "peer:x")
        assert await store.read(doc_id) == before
        allergies = await documents.read(doc_id, lambda d: d.get(("entries", "a1", "substance")))
        assert allergies == "Penicillin"
    finally:
        await store.stop()


@pytest.mark.asyncio
async def test_a_document_over_its_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(remote_changes.MAX_DOC_BYTES, "chart", 4096)
    store, documents, _, _ = await _node_with_chart()
    try:
        big = chart.register_patient(str(uuid.uuid4()), PATIENT, NURSE, "2026-11-29")
        for i in range(40):
            chart.add_note(big, {"text": os.urandom(200).hex()}, NURSE, f"n{i}")
        big_id = str(big.get(("id",)))
        with pytest.raises(RefusedChange, match="limit"):
            await documents.apply_remote(big_id, big.save(), "peer:x")
        assert await store.read(big_id) is None
    finally:
        await store.stop()


@pytest.mark.asyncio
async def test_every_remote_write_has_an_audit_row_naming_author_peer_and_change() -> None:
    store, documents, doc_id, doc = await _node_with_chart()
    try:
        lab = Author("bb" * 8, "02" * 8, NURSE.at_ms + 1000)
        theirs = doc.fork(lab.actor)
        chart.add_note(theirs, {"text": "Malaria RDT positive."}, lab, "note7")
        delta = theirs.changes_since(doc.heads())
        assert await documents.apply_remote(doc_id, delta, "peer:lab-laptop") is True
        (row,) = [e for e in await store.audit_events(doc_id) if e.action == "remote_write"]
        assert row.origin == "peer:lab-laptop"
        assert row.user == f"{'bb' * 8}/{'02' * 8}"
        assert "+note7(note)" in row.detail
    finally:
        await store.stop()


@pytest.mark.asyncio
async def test_a_batch_with_a_new_document_and_later_changes_to_it_stores_both() -> None:
    store, documents, _, _ = await _node_with_chart()
    try:
        first = chart.register_patient(str(uuid.uuid4()), PATIENT, NURSE, "2026-11-29")
        first_id = str(first.get(("id",)))
        received = first.save()
        second = chart.register_patient(str(uuid.uuid4()), PATIENT, NURSE, "2026-11-29")
        second_id = str(second.get(("id",)))
        base = second.heads()
        sent_whole = second.save()
        chart.add_note(second, {"text": "later"}, NURSE, "n1")
        results = await documents.apply_remote_many(
            [(first_id, received), (second_id, sent_whole),
             (second_id, second.changes_since(base))], "peer:x")
        assert results == [True, True, True]
        assert Doc.load(await store.read(first_id) or b"").heads() == first.heads()
        stored = Doc.load(await store.read(second_id) or b"")
        assert stored.heads() == second.heads()  # both items of the batch, not the first alone
    finally:
        await store.stop()
