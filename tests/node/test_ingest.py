"""Bulk ingest (meshd.ingest): a peer's batch of new charts, checked in a worker process or in
this one, is stored exactly as received with its projections and signatures, and a forged,
unsigned or rule-breaking chart in the batch is refused as it is without the worker."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.arrival import RefusedChange
from crdt_model.context import Author
from crdt_model.errors import CorruptDocument
from crdt_model.ids import chart_id
from meshd.attest import Attestor, keys_by_device, offered_keys, verify_offered
from meshd.clinic import genesis_for, project
from meshd.docs import Documents
from meshd.ingest import MIN_POOL_DOCS
from meshd.ingest_pool import IngestPool
from meshd.store.base import Attestation
from meshd.store.memory import MemoryStore
from meshd.sync.crypto import public_bytes
from meshd.sync.documents import DocumentsPort
from meshd.sync.ports import ApplyResult, DocChange

DOCTOR, TABLET, HERE = (str(uuid.uuid4()) for _ in range(3))
WARM_TIMEOUT_S = 60.0
VALID = MIN_POOL_DOCS + 4
Batch = tuple[list[tuple[str, bytes]], dict[str, Sequence[Attestation]]]


class Mesh:
    """The doctor's laptop and a tablet, rostered; this device checks what they send."""

    def __init__(self) -> None:
        keys = {d: Ed25519PrivateKey.generate() for d in (DOCTOR, TABLET, HERE)}
        self.tablet_public = public_bytes(keys[TABLET])
        signers = keys_by_device({d: {"public_key": public_bytes(k).hex()}
                                  for d, k in keys.items()})
        self.doctor = Attestor(keys[DOCTOR], genesis_for(DOCTOR))
        self.tablet = Attestor(keys[TABLET], genesis_for(TABLET))
        self.here = Attestor(keys[HERE], genesis_for(HERE),
                             lambda prefix: signers.get(prefix, set()))


def _chart(n: int, author: Author) -> tuple[str, Doc]:
    pid = str(uuid.uuid4())
    patient = {"given_name": f"Amina{n}", "family_name": "Bello", "sex": "female",
               "birth_date": "1990-02-03", "phone": f"+2547000{n:05d}"}
    doc = chart.register_patient(pid, patient, author, "2026-11-29")
    chart.record_allergy(doc, {"substance": "Penicillin", "severity": "severe"}, author, "a1")
    return chart_id(pid), doc


def _batch(mesh: Mesh) -> tuple[Batch, dict[str, type[CorruptDocument] | str]]:
    """VALID signed charts and three bad ones: what each should become (True or the refusal)."""
    doctor = Author(DOCTOR, "dr-ali", 1_000)
    items: list[tuple[str, bytes]] = []
    offered: dict[str, Sequence[Attestation]] = {}
    expected: dict[str, type[CorruptDocument] | str] = {}
    for n in range(VALID):
        doc_id, doc = _chart(n, doctor)
        items.append((doc_id, doc.save()))
        offered[doc_id] = mesh.doctor.sign(doc_id, doc, ())
        expected[doc_id] = "stored"
    unsigned_id, unsigned = _chart(100, doctor)
    items.append((unsigned_id, unsigned.save()))
    expected[unsigned_id] = "not signed"
    # The tablet writes as the doctor's actor and signs with its own key.
    forged_id, forged = _chart(101, doctor)
    items.append((forged_id, forged.save()))
    offered[forged_id] = mesh.tablet.sign(forged_id, forged, ())
    expected[forged_id] = "claims device"
    # Signed, but the chart says it is another chart: the arrival rules refuse it.
    _, other = _chart(102, doctor)
    wrong_id = chart_id(str(uuid.uuid4()))
    items.append((wrong_id, other.save()))
    offered[wrong_id] = mesh.doctor.sign(wrong_id, other, ())
    expected[wrong_id] = "does not say it is this chart"
    return (items, offered), expected


async def _apply(documents: Documents, batch: Batch) -> dict[str, ApplyResult]:
    items, offered = batch
    results = await documents.apply_remote_many(items, "peer:tablet", offered)
    return {doc_id: result for (doc_id, _), result in zip(items, results, strict=True)}


async def _warm(pool: IngestPool, sample: tuple[str, bytes]) -> None:
    """Start the workers and wait (bounded) until they take batches."""
    assert await pool.check([(*sample, ())], b"\0" * 16) is None  # starting: checked here
    deadline = time.monotonic() + WARM_TIMEOUT_S
    while not pool.active:
        assert time.monotonic() < deadline, "the ingest worker did not start"
        await asyncio.sleep(0.05)  # a process starting: there is no event to wait on


def _assert_outcome(results: dict[str, ApplyResult],
                    expected: dict[str, type[CorruptDocument] | str]) -> None:
    for doc_id, want in expected.items():
        got = results[doc_id]
        if want == "stored":
            assert got is True, (doc_id, got)
        else:
            assert isinstance(got, RefusedChange) and str(want) in got.message, (doc_id, got)


@pytest.mark.asyncio
@pytest.mark.parametrize("workers", [0, 1])
async def test_a_batch_of_new_charts_is_stored_as_received_and_bad_ones_are_refused(
    workers: int,
) -> None:
    mesh = Mesh()
    batch, expected = _batch(mesh)
    pool = IngestPool(project, workers=workers)
    async with MemoryStore() as store, pool:
        documents = Documents(store, Author(HERE, "system", 0).actor, genesis=genesis_for(HERE),
                              project=project, attestor=mesh.here, ingest=pool)
        if workers:
            await _warm(pool, batch[0][0])
        _assert_outcome(await _apply(documents, batch), expected)
        items, offered = batch
        for doc_id, data in items:
            if expected[doc_id] == "stored":
                assert await store.read(doc_id) == data  # as received, never saved again
                assert (await store.attestations([doc_id]))[doc_id] == list(offered[doc_id])
            else:
                assert await store.read(doc_id) is None
                assert await store.attestations([doc_id]) == {}
        assert len(await store.search_patients("Bello", limit=100)) == VALID  # projected
        audit = [e for e in await store.audit_events(limit=1000) if e.action == "remote_write"]
        assert len(audit) == VALID and all(e.origin == "peer:tablet" for e in audit)
        # A document stored unloaded still reads, and a change on top of it merges.
        doc_id, data = items[0]
        doc = Doc.load(data)
        assert await documents.heads(doc_id) == tuple(doc.heads())
        chart.add_note(doc, {"text": "seen again"}, Author(DOCTOR, "dr-ali", 2_000), "n1")
        assert await documents.apply_remote(doc_id, doc.changes_since(Doc.load(data).heads()),
                                            "peer:tablet", mesh.doctor.sign(doc_id, doc, ()))
        assert Doc.load(await store.read(doc_id) or b"").heads() == doc.heads()


@pytest.mark.asyncio
async def test_the_worker_refuses_what_this_process_refuses_for_the_same_reasons() -> None:
    mesh = Mesh()
    batch, _ = _batch(mesh)
    outcomes: list[Any] = []
    for workers in (0, 1):
        pool = IngestPool(project, workers=workers)
        async with MemoryStore() as store, pool:
            documents = Documents(store, Author(HERE, "system", 0).actor,
                                  genesis=genesis_for(HERE), project=project,
                                  attestor=mesh.here, ingest=pool)
            if workers:
                await _warm(pool, batch[0][0])
            results = await _apply(documents, batch)
            outcomes.append({d: r if r is True else (type(r).__name__, getattr(r, "message", r))
                             for d, r in results.items()})
            rows = sorted((r["id"], r["phone"]) for r in
                          await store.search_patients("Bello", limit=100))
            outcomes.append(rows)
    assert outcomes[0] == outcomes[2] and outcomes[1] == outcomes[3]


@pytest.mark.asyncio
async def test_a_whole_new_chart_is_announced_by_its_heads_without_loading_it() -> None:
    mesh = Mesh()
    (items, offered), _ = _batch(mesh)
    async with MemoryStore() as store:
        documents = Documents(store, Author(HERE, "system", 0).actor, genesis=genesis_for(HERE),
                              project=project, attestor=mesh.here)
        port = DocumentsPort(documents)
        heard: list[DocChange] = []
        port.subscribe(heard.append)
        loads = 0
        real_load = Doc.load

        def counting_load(data: bytes, actor: bytes | None = None) -> Doc:
            nonlocal loads
            loads += 1
            return real_load(data, actor)

        Doc.load = counting_load  # type: ignore[method-assign]
        try:
            await documents.apply_remote_many(items[:VALID], "peer:tablet", offered)
        finally:
            Doc.load = real_load  # type: ignore[method-assign]
        assert loads == VALID  # each checked once; not loaded again to be announced
        assert [(c.doc_id, c.base, c.data) for c in heard] == [
            (doc_id, (), b"") for doc_id, _ in items[:VALID]]
        assert all(c.heads == tuple(Doc.load(data).heads())
                   for c, (_, data) in zip(heard, items, strict=False))


def test_a_signature_verified_in_a_worker_counts_only_for_its_change_device_and_key() -> None:
    mesh = Mesh()
    doc_id, doc = _chart(1, Author(DOCTOR, "dr-ali", 1_000))
    new = doc.history()
    signed = mesh.doctor.sign(doc_id, doc, ())
    assert mesh.here.keys_for is not None
    done = verify_offered(doc_id, offered_keys(mesh.here.keys_for, signed))
    assert len(done) == len(signed)
    with mesh.here.verified(done):
        assert mesh.here.check(doc_id, new, signed) == signed
    # The tablet signs the doctor's changes: a worker claiming it verified that with the
    # tablet's key (not one the roster gives the doctor's device) is not believed.
    forged = mesh.tablet.sign(doc_id, doc, ())
    assert verify_offered(doc_id, offered_keys(mesh.here.keys_for, forged)) == ()
    claimed = tuple((doc_id, a.hash, a.sig, a.actor[:8], mesh.tablet_public) for a in forged)
    with mesh.here.verified(claimed), pytest.raises(RefusedChange, match="claims device"):
        mesh.here.check(doc_id, new, forged)
    # A verified signature of one document proves nothing of another.
    other_id, _ = _chart(2, Author(DOCTOR, "dr-ali", 1_000))
    with mesh.here.verified(done), pytest.raises(RefusedChange):
        mesh.here.check(other_id, new, signed)
