"""Handing a peer that dialed with an outdated mesh key only the documents that let it catch up.

The directory carries the new key sealed to each rostered device: the peer adopts it and dials
again, and no chart ever travels under a key a revoked device also holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from crdt_model.errors import ClinicMeshError
from meshd import wire
from meshd.sync.handshake import SecureChannel
from meshd.sync.outbox import attestations_message
from meshd.sync.ports import SyncedDocuments

log = logging.getLogger(__name__)


async def hand_over(channel: SecureChannel, documents: SyncedDocuments,
                    handoff_docs: Sequence[str], timeout_s: float) -> None:
    """Send the hand-off documents whole, wait (bounded) for the peer to hang up, close."""
    log.info("session with %s on mesh key epoch %d: handing over the directory only",
             channel.peer_name, channel.key_epoch)
    try:
        saved = await documents.saved(list(handoff_docs))
        docs = tuple(wire.SavedDoc(doc_id, data) for doc_id, data in saved.items())
        signed = await documents.attestations(list(saved))
        if signed:  # what proves the documents' changes goes first (meshd.attest)
            await channel.send(attestations_message(signed))
        if docs:
            await channel.send(wire.Snapshots(docs))
        # The peer hangs up itself once it adopts the new key (end_outdated_sessions); until
        # then its frames are read and dropped, so the hand-over is not cut short.
        async with asyncio.timeout(timeout_s):
            while True:
                await channel.link.receive()
    except (ClinicMeshError, OSError, TimeoutError) as exc:
        log.debug("hand-over to %s ended: %s", channel.peer_name, exc)
    finally:
        await channel.link.close()
