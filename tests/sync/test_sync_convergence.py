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
from chart_pairs import AT_MS, chart_pair, false_positive_pair, first_message
from sync_helpers import QUICK, Mesh, wait_until

from crdt_model import sync_message
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.sample import build_sample_chart
from meshd.sync import doc_sync

PAIRS = 500
# A healthy exchange of one document takes a handful of messages each way.
MAX_SYNC_MESSAGES_PER_DOC = 16
CONVERGE_S = 30.0


@pytest.mark.asyncio
async def test_500_random_chart_pairs_converge_within_bounded_messages(mesh: Mesh) -> None:
    rng = random.Random(17)
    pairs = {f"chart:{i}": chart_pair(i, rng) for i in range(PAIRS)}
    stuck = await _converge(mesh, pairs)
    assert not stuck, f"{len(stuck)} of {PAIRS} charts never converged: {stuck[:5]}"
    sessions = [s for d in mesh.devices if d.engine for s in d.engine.sessions()]
    for session in sessions:
        busiest = max(session.sync_received.values(), default=0)
        assert busiest <= MAX_SYNC_MESSAGES_PER_DOC, session.sync_received.most_common(3)
    # Then quiet: once the last acknowledgements are in, anti-entropy finds nothing to exchange.
    def received() -> int:
        return sum(s.sync_received.total() for s in sessions)

    interval = QUICK.anti_entropy_interval_s
    async with asyncio.timeout(10):
        before = -1
        while received() != before:
            before = received()
            await asyncio.sleep(interval)
    await asyncio.sleep(3 * interval)
    assert received() == before


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


@pytest.mark.asyncio
async def test_a_change_the_bloom_filter_falsely_claims_is_still_delivered(mesh: Mesh) -> None:
    behind, ahead, withheld = false_positive_pair(random.Random(5))
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
    behind, ahead, _ = false_positive_pair(random.Random(5))
    assert not await _converge(mesh, {"chart:fp": (behind, ahead)})
    stalls = [r for r in caplog.records if "made no progress" in r.getMessage()]
    assert stalls and all("chart:fp" in r.getMessage() for r in stalls)


def test_bloom_probe_matches_the_binding() -> None:
    """Our reading of a sync message's Bloom filter agrees with what automerge builds."""
    rng = random.Random(3)
    doc = build_sample_chart(str(uuid.UUID(int=1)), Author("aa" * 8, "01" * 8, AT_MS), rng)
    hashes = [c.hash for c in doc.history()]
    (bloom,) = sync_message.decode(first_message(doc)).blooms
    assert all(sync_message.bloom_contains(bloom, h) for h in hashes)
    assert not sync_message.bloom_contains(bloom, bytes(32))
