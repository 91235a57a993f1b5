"""Sync as the node runs it: the engine built from the data dir, the documents and the options.

The roster (device keys allowed to sync) is read from `directory:<mesh>`: every device there
that is not revoked, plus this device. It is kept current as that document changes, so a
revocation takes effect for new sessions at once. This module adds `GET /api/v1/sync/status`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from crdt_model import directory
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from meshd.clinic import actions
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.lifecycle import Lifecycle
from meshd.store.base import AuditEvent
from meshd.sync.documents import DocumentsPort
from meshd.sync.engine import SyncEngine, SyncTiming
from meshd.sync.handshake import Credentials
from meshd.sync.ports import QuarantineRecord
from meshd.sync.websocket import WebSocketTransport

log = logging.getLogger(__name__)

STATUS_PATH = "/api/v1/sync/status"
PEER_HOST = "0.0.0.0"  # peers are on the LAN; the API alone stays on 127.0.0.1
_KEY_HEX_CHARS = 64
QUARANTINE_KEPT = 100


def _nothing() -> None:
    """The default roster listener."""


class DirectoryRoster:
    """The mesh roster from the directory document, refreshed whenever it changes; `on_change`
    is called when the set of allowed keys changed."""

    def __init__(self, documents: Documents, mesh_id: str, own_key: bytes, *,
                 on_change: Callable[[], None] = _nothing) -> None:
        self._on_change = on_change
        self._documents = documents
        self._doc_id = directory_id(mesh_id)
        self._own_key = own_key
        self._keys: frozenset[bytes] = frozenset({own_key})
        self._unsubscribe = documents.subscribe(self._heard)

    def __call__(self) -> frozenset[bytes]:
        """The device keys currently allowed to sync."""
        return self._keys

    async def refresh(self) -> None:
        """Re-read the directory document."""
        try:
            devices = await self._documents.read(self._doc_id, directory.devices)
        except ClinicMeshError as exc:
            log.warning("cannot read the mesh roster: %s", exc)
            return
        keys = {self._own_key}
        for device in devices.values():
            key = device.get("public_key")
            if device.get("revoked_at") is None and isinstance(key, str) and (
                len(key) == _KEY_HEX_CHARS
            ):
                keys.add(bytes.fromhex(key))
        changed = keys != self._keys
        self._keys = frozenset(keys)
        if changed:
            self._on_change()

    async def _heard(self, doc_id: str, heads: tuple[bytes, ...], origin: str) -> None:
        if doc_id == self._doc_id:
            await self.refresh()

    def close(self) -> None:
        """Stop following the directory."""
        self._unsubscribe()


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

    async def flush(self) -> None:
        """Wait for the audit rows being written."""
        await asyncio.gather(*self._writes, return_exceptions=True)


class NodeSync(Lifecycle):
    """The node's sync engine, roster and quarantine, started and stopped together."""

    def __init__(self, engine: SyncEngine, roster: DirectoryRoster, quarantine: Quarantine,
                 ) -> None:
        self.engine = engine
        self.roster = roster
        self.quarantine = quarantine

    async def start(self) -> None:
        """Read the roster, then listen and dial; on failure, stop what started and raise."""
        try:
            await self.roster.refresh()
            await self.engine.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the engine (every session and task) and stop following the roster; safe twice."""
        await self.engine.stop()
        self.roster.close()
        await self.quarantine.flush()

    def add_routes(self, app: web.Application) -> None:
        """Serve the engine's status at GET /api/v1/sync/status (behind the API's auth)."""

        async def status(request: web.Request) -> web.Response:
            body: dict[str, Any] = self.engine.status()
            return web.json_response(body)

        app.router.add_get(STATUS_PATH, status)


def node_sync(
    documents: Documents, data: DataDir, peer_port: int, peers: Sequence[str],
    *, host: str = PEER_HOST, timing: SyncTiming | None = None,
    peer_routes: Sequence[Callable[[web.Application], None]] = (),
    keyring: Callable[[], Sequence[tuple[int, bytes]]] | None = None,
) -> NodeSync:
    """Sync of this node's documents with its mesh on `host:peer_port`, dialing `peers`, built
    but not started.

    `peer_routes` add routes to the peer port's aiohttp app before it starts (pairing);
    `keyring` gives the mesh keys by epoch, newest first (membership), else `data`'s key alone.
    """
    quarantine = Quarantine(documents)
    # The roster calls the engine built below; it only fires once the node starts it.
    roster = DirectoryRoster(documents, data.identity.mesh_id, data.device_public_key(),
                             on_change=lambda: engine.enforce_roster())
    credentials = Credentials(
        data.device_key, data.identity.device_name, data.mesh_key, roster, keyring=keyring,
        handoff_docs=(directory_id(data.identity.mesh_id),) if keyring is not None else (),
    )
    engine = SyncEngine(
        credentials, DocumentsPort(documents), WebSocketTransport(host, peer_port,
                                                                  extra_routes=peer_routes),
        peers=peers, timing=timing, on_quarantine=quarantine.record,
    )
    return NodeSync(engine, roster, quarantine)


async def start_node_sync(
    documents: Documents, data: DataDir, peer_port: int, peers: Sequence[str],
    *, host: str = PEER_HOST, timing: SyncTiming | None = None,
) -> NodeSync:
    """`node_sync(...)`, started (for tests and tools that run sync alone)."""
    sync = node_sync(documents, data, peer_port, peers, host=host, timing=timing)
    await sync.start()
    return sync
