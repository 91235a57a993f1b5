"""A peer session's own decisions (meshd.sync.peer), over an in-memory link."""

from __future__ import annotations

import asyncio
import os

import pytest

from crdt_model.adapter import Doc
from meshd import wire
from meshd.sync import crypto
from meshd.sync.digest import HeadsDigest
from meshd.sync.fakes import MemoryDocuments, MemoryLink
from meshd.sync.handshake import SecureChannel
from meshd.sync.peer import PeerSession


def _session(documents: MemoryDocuments) -> PeerSession:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    key = os.urandom(32)
    channel = SecureChannel(MemoryLink("peer", queue, queue), crypto.FrameSealer(key),
                            crypto.FrameOpener(key), os.urandom(32), "peer")
    index = HeadsDigest({d: tuple(doc.heads()) for d, doc in documents.docs.items()})
    return PeerSession(channel, "peer", True, documents, index, lambda bad: None)


async def _digest_due(session: PeerSession) -> bool:
    return isinstance(await session.outbox.next_message(), wire.Digest)


@pytest.mark.asyncio
async def test_periodic_anti_entropy_waits_while_a_bulk_transfer_is_under_way() -> None:
    """Comparing heads half-way through an initial sync sent thousands of them and asked again
    for documents already on their way (1.5 MB of 3.6 MB for 10,000 charts)."""
    documents = MemoryDocuments(os.urandom(16))
    for i in range(3):
        documents.docs[f"chart:{i}"] = Doc.new(documents.actor)
    sending = _session(documents)
    sending.outbox.snapshots(["chart:0", "chart:1"])  # sending in bulk
    sending.request_anti_entropy(periodic=True)
    assert not await _digest_due(sending)  # the snapshots go; no digest
    sending.request_anti_entropy()  # asked for (connect, a new key): always
    assert await _digest_due(sending)
    sending.request_anti_entropy(periodic=True)
    assert await _digest_due(sending)  # the bulk has gone

    receiving = _session(MemoryDocuments(os.urandom(16)))
    batch = tuple(wire.SavedDoc(d, documents.docs[d].save()) for d in ("chart:0", "chart:1"))
    await receiving._handle(wire.Snapshots(batch))  # receiving in bulk
    receiving.request_anti_entropy(periodic=True)
    assert not await _digest_due(receiving)
    receiving.request_anti_entropy(periodic=True)  # no batch since the last round
    assert await _digest_due(receiving)
    await receiving._handle(wire.Snapshots(batch[:1]))  # one document: an answer, not bulk
    receiving.request_anti_entropy(periodic=True)
    assert await _digest_due(receiving)
