"""Sync as the node runs it: the engine built from the data dir, the documents and the options,
with the roster read from `directory:<mesh>` (meshd.sync.directory_roster), the quarantine of
refused data and the attachment blobs. Adds `GET /api/v1/sync/status`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from crdt_model.ids import directory_id
from meshd.clinic import actions
from meshd.docs import Documents
from meshd.enrolment import forget_invite_key, invite_key
from meshd.identity import DataDir
from meshd.lifecycle import Lifecycle
from meshd.store.base import AuditEvent
from meshd.sync.blobs import BlobSync, Wanted, nothing_wanted
from meshd.sync.directory_roster import DirectoryRoster
from meshd.sync.documents import DocumentsPort
from meshd.sync.engine import SyncEngine
from meshd.sync.handshake import Credentials, Enrolment
from meshd.sync.peering import DEFAULT_MAX_SESSIONS
from meshd.sync.port_guard import quiet_engine_refusals
from meshd.sync.ports import QuarantineRecord
from meshd.sync.timing import SyncTiming
from meshd.sync.websocket import WebSocketTransport

log = logging.getLogger(__name__)

STATUS_PATH = "/api/v1/sync/status"
PEER_HOST = "0.0.0.0"  # peers are on the LAN; the API alone stays on 127.0.0.1
QUARANTINE_KEPT = 100


class Quarantine:
    """Bad data from peers, kept aside in memory (the latest QUARANTINE_KEPT) and audited."""

    def __init__(self, documents: Documents) -> None:
        self.records: deque[QuarantineRecord] = deque(maxlen=QUARANTINE_KEPT)
        self._documents = documents
        self._writes: set[asyncio.Task[None]] = set()

    def record(self, record: QuarantineRecord) -> None:
        """Keep `record` and write its audit row in the background."""
        self.records.append(record)
        event = AuditEvent(record.at_ms, "sync", actions.QUARANTINE, record.doc_id, record.peer_id,
                           f"{record.peer_name}: {record.reason}"[:500])
        task = asyncio.get_running_loop().create_task(self._documents.store.write([], [event]))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def report(self) -> list[dict[str, Any]]:
        """The kept records, newest first, without their data: which device sent what, why.

        The device named is the one whose authenticated link delivered the data (the one an
        admin would revoke); authors claimed inside the data are not proven and not shown."""
        return [{"at_ms": r.at_ms, "doc_id": r.doc_id, "device_key": r.peer_id,
                 "device_name": r.peer_name, "reason": r.reason} for r in reversed(self.records)]

    async def flush(self) -> None:
        """Wait for the audit rows being written."""
        await asyncio.gather(*self._writes, return_exceptions=True)


class NodeSync(Lifecycle):
    """The node's sync engine, roster and quarantine, started and stopped together."""

    def __init__(self, engine: SyncEngine, roster: DirectoryRoster, quarantine: Quarantine,
                 blobs: BlobSync,
                 relay: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.engine = engine
        self.roster = roster
        self.quarantine = quarantine
        self.blobs = blobs
        self._relay = relay  # the relay link's state (meshd.relay.link), when the node has one

    async def start(self) -> None:
        """Read the roster, then listen and dial; on failure, stop what started and raise."""
        try:
            await self.roster.refresh()
            await self.engine.start()
            await self.blobs.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the blob fetch, the engine (every session and task) and stop following the
        roster; safe twice."""
        await self.blobs.stop()
        await self.engine.stop()
        self.roster.close()
        await self.quarantine.flush()
        await asyncio.gather(*self.roster.writes, return_exceptions=True)

    def status(self, recent_docs: int = 100) -> dict[str, Any]:
        """The engine's status with the quarantine list, the attachment blobs fetched and
        refused, and the relay link (`GET /api/v1/sync/status`)."""
        relay = self._relay() if self._relay is not None else None
        return {**self.engine.status(recent_docs), "quarantine": self.quarantine.report(),
                "attachments": self.blobs.status(), "relay": relay}

    def add_routes(self, app: web.Application) -> None:
        """Serve the engine's status at GET /api/v1/sync/status (behind the API's auth)."""

        async def status(request: web.Request) -> web.Response:
            return web.json_response(self.status())

        app.router.add_get(STATUS_PATH, status)


def node_sync(
    documents: Documents, data: DataDir, peer_port: int, peers: Sequence[str],
    *, host: str = PEER_HOST, timing: SyncTiming | None = None,
    peer_routes: Sequence[Callable[[web.Application], None]] = (),
    keyring: Callable[[], Sequence[tuple[int, bytes]]] | None = None,
    wanted: Wanted = nothing_wanted,
    relay: Callable[[], dict[str, Any] | None] | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> NodeSync:
    """Sync of this node's documents with its mesh on `host:peer_port`, dialing `peers`, built
    but not started.

    `peer_routes` add routes to the peer port's aiohttp app before it starts (pairing);
    `keyring` gives the mesh keys by epoch, newest first (membership), else `data`'s key alone;
    `wanted` lists the attachment blobs charts reference and this device lacks (the clinic's);
    `relay` the relay link's state for the status;
    `max_sessions` bounds the peer sessions kept at once (meshd.sync.peering).
    """
    quarantine = Quarantine(documents)
    unspent = invite_key(data)
    # The roster calls the engine built below; it only fires once the node starts it.
    roster = DirectoryRoster(documents, data.identity.mesh_id, data.device_public_key(),
                             data.identity.device_id, on_change=lambda: engine.enforce_roster(),
                             on_window=lambda: ask_all_again(engine))
    credentials = Credentials(
        data.device_key, data.identity.device_name, data.mesh_key, roster, keyring=keyring,
        handoff_docs=(directory_id(data.identity.mesh_id),) if keyring is not None else (),
        enrolment=None if unspent is None else Enrolment(
            unspent, lambda: forget_invite_key(data.path)),
        admit=roster.admit,
    )
    quiet_engine_refusals()  # strangers on the LAN must not be able to grow the log at will
    # The blob sync asks the sessions of the engine built below; it runs once the node does.
    blobs = BlobSync(documents.store, lambda: [(s.peer_id, s.outbox.blob)
                                               for s in engine.sessions()],
                     wanted, documents.subscribe)
    engine = SyncEngine(
        credentials, DocumentsPort(documents), WebSocketTransport(host, peer_port,
                                                                  extra_routes=peer_routes),
        peers=peers, timing=timing, on_quarantine=quarantine.record, blobs=blobs,
        max_sessions=max_sessions,
    )
    return NodeSync(engine, roster, quarantine, blobs, relay)


async def start_node_sync(
    documents: Documents, data: DataDir, peer_port: int, peers: Sequence[str],
    *, host: str = PEER_HOST, timing: SyncTiming | None = None,
) -> NodeSync:
    """`node_sync(...)`, started (for tests and tools that run sync alone)."""
    sync = node_sync(documents, data, peer_port, peers, host=host, timing=timing)
    await sync.start()
    return sync


def ask_all_again(engine: SyncEngine) -> None:
    """Compare documents with every connected peer now (what waited may pass now)."""
    for session in engine.sessions():
        session.request_anti_entropy()
