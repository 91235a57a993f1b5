"""Charts that differ by a few changes converge through the production engine, and then go quiet.

Regression for a chart stranded for good: when the receiver's Bloom filter falsely claimed a
change, its dependents were received into a throwaway copy and dropped while the session
recorded them as delivered, so the two peers exchanged sync messages without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid

import pytest
from sync_helpers import QUICK, Mesh, wait_until

from crdt_model import chart, sync_message
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.sample import COMPLAINTS, build_sample_chart
from meshd.sync import doc_sync

PAIRS = 500
AT_MS = 1_763_800_000_000
# A healthy exchange of one document takes a handful of messages each way.
MAX_SYNC_MESSAGES_PER_DOC = 16
CONVERGE_S = 30.0


def _edit(doc: Doc, author: Author, rng: random.Random) -> None:
    """One realistic clinical write: a note, an allergy, a diagnosis or a visit."""
    entry = f"{rng.getrandbits(64):016x}"
    kind = rng.randrange(4)
    if kind == 0:
        chart.add_note(doc, {"text": f"Review {rng.randrange(10**6)}."}, author, entry)
    elif kind == 1:
        chart.record_allergy(doc, {"substance": rng.choice(("Penicillin", "Sulfa"))},
                             author, entry)
    elif kind == 2:
        chart.record_diagnosis(doc, {"code": "B54", "label": "Malaria"}, author, entry)
    else:
        chart.open_encounter(doc, {"chief_complaint": rng.choice(COMPLAINTS)}, author, entry)


def _pair(i: int, rng: random.Random) -> tuple[Doc, Doc]:
    """Two copies of one chart: the second a few changes ahead, sometimes both branched."""
    base_author = Author("aa" * 8, "01" * 8, AT_MS)
    doc = build_sample_chart(str(uuid.UUID(int=i)), base_author, rng)
    ahead = doc.fork(doc.actor())
    behind = doc.fork(doc.actor())
    for n in range(rng.randint(1, 6)):
        _edit(ahead, Author("bb" * 8, "02" * 8, AT_MS + 1000 * n), rng)
    if rng.random() < 0.5:  # a concurrent branch on the other copy
        for n in range(rng.randint(1, 3)):
            _edit(behind, Author("cc" * 8, "03" * 8, AT_MS + 1000 * n), rng)
    return behind, ahead


@pytest.mark.asyncio
async def test_500_random_chart_pairs_converge_within_bounded_messages(mesh: Mesh) -> None:
    rng = random.Random(17)
    pairs = {f"chart:{i}": _pair(i, rng) for i in range(PAIRS)}
    stuck = await _converge(mesh, pairs)
    assert not stuck, f"{len(stuck)} of {PAIRS} charts never converged: {stuck[:5]}"
    sessions = [s for d in mesh.devices if d.engine for s in d.engine.sessions()]
    for session in sessions:
        busiest = max(session.sync_received.values(), default=0)
        assert busiest <= MAX_SYNC_MESSAGES_PER_DOC, session.sync_received.most_common(3)
    # Then quiet: anti-entropy rounds find nothing to exchange.
    before = sum(s.sync_received.total() for s in sessions)
    await asyncio.sleep(3 * QUICK.anti_entropy_interval_s)
    assert sum(s.sync_received.total() for s in sessions) == before


async def _converge(mesh: Mesh, docs: dict[str, tuple[Doc, Doc]]) -> list[str]:
    """Start two engines holding each pair and wait (bounded); the doc ids still apart."""
    a, b = mesh.device("a"), mesh.device("b")
    for doc_id, (mine, theirs) in docs.items():
        a.docs.docs[doc_id], b.docs.docs[doc_id] = mine, theirs
    await mesh.start(b)
    await mesh.start(a, [b.name])

    def converged() -> bool:
        return all(a.heads(d) == b.heads(d) for d in docs)

    with contextlib.suppress(TimeoutError):
        await wait_until(converged, timeout_s=CONVERGE_S)
    return [d for d in docs if a.heads(d) != b.heads(d)]


def _false_positive_pair(rng: random.Random) -> tuple[Doc, Doc, bytes]:
    """Two branches of a chart, where the Bloom filter of one falsely claims a change of the other.

    The sender withholds a change the filter claims, and sends what depends on it. So the
    change must sit directly on the common base (a descendant of anything sent is sent too):
    candidates are made there until one hash lands on set bits, then a dependent goes on top.
    """
    base = build_sample_chart(str(uuid.UUID(int=7)), Author("aa" * 8, "01" * 8, AT_MS), rng)
    behind = base.fork(base.actor())
    for n in range(40):  # its own branch; a larger filter makes a false positive quicker to find
        _edit(behind, Author("cc" * 8, "03" * 8, AT_MS + n), rng)
    (bloom,) = sync_message.decode(_first_message(behind)).blooms
    for attempt in range(20_000):
        ahead = base.fork(base.actor())
        _edit(ahead, Author("bb" * 8, "02" * 8, AT_MS + attempt), rng)
        withheld = ahead.history()[-1].hash
        if sync_message.bloom_contains(bloom, withheld):
            _edit(ahead, Author("bb" * 8, "02" * 8, AT_MS + attempt + 1), rng)
            return behind, ahead, withheld
    raise AssertionError("no false positive found")


@pytest.mark.asyncio
async def test_a_change_the_bloom_filter_falsely_claims_is_still_delivered(mesh: Mesh) -> None:
    behind, ahead, withheld = _false_positive_pair(random.Random(5))
    assert withheld not in {c.hash for c in behind.history()}
    assert not await _converge(mesh, {"chart:fp": (behind, ahead)})
    a, _ = mesh.devices
    assert withheld in {c.hash for c in a.docs.docs["chart:fp"].history()}


@pytest.mark.asyncio
async def test_an_exchange_that_stalls_is_reset_and_the_document_sent_whole(
    mesh: Mesh, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    # With no room for waiting changes, a false positive strands its dependents as before the
    # fix: only the no-progress guard can bring the pair together.
    monkeypatch.setattr(doc_sync, "MAX_INBOUND_DOCS", -1)
    behind, ahead, _ = _false_positive_pair(random.Random(5))
    assert not await _converge(mesh, {"chart:fp": (behind, ahead)})
    stalls = [r for r in caplog.records if "made no progress" in r.getMessage()]
    assert stalls and all("chart:fp" in r.getMessage() for r in stalls)


def test_bloom_probe_matches_the_binding() -> None:
    """Our reading of a sync message's Bloom filter agrees with what automerge builds."""
    rng = random.Random(3)
    doc = build_sample_chart(str(uuid.UUID(int=1)), Author("aa" * 8, "01" * 8, AT_MS), rng)
    hashes = [c.hash for c in doc.history()]
    (bloom,) = sync_message.decode(_first_message(doc)).blooms
    assert all(sync_message.bloom_contains(bloom, h) for h in hashes)
    assert not sync_message.bloom_contains(bloom, bytes(32))


def _first_message(doc: Doc) -> bytes:
    from crdt_model.adapter import PeerSyncState

    message = doc.generate_sync_message(PeerSyncState())
    assert message is not None
    return message
