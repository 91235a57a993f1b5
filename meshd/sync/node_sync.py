"""Sync as the node runs it: the engine built from the data dir, the documents and the options.

The roster (device keys allowed to sync) is read from `directory:<mesh>`: every device there
that is not revoked, plus this device. It is kept current as that document changes, so a
revocation takes effect for new sessions at once. A device rostered by an invite is pending:
no node accepts its key; only its inviter admits it, once, before the invite expires, and then
writes the device's own key in place of the invite's. This module adds
`GET /api/v1/sync/status`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from crdt_model import directory
from crdt_model.context import Author
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from meshd.attest import device_prefix, keys_by_device
from meshd.clinic import actions
from meshd.docs import Documents
from meshd.enrolment import forget_invite_key, invite_key
from meshd.identity import DataDir
from meshd.lifecycle import Lifecycle
from meshd.store.base import AuditEvent
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
_KEY_HEX_CHARS = 64
QUARANTINE_KEPT = 100
ROSTER_USER = "system"


@dataclass(frozen=True, slots=True)
class PendingInvite:
    """A device rostered by an invite it has not used yet."""

    device_id: str
    expires_at_ms: int
    inviter_id: str


def _nothing() -> None:
    """The default roster listener."""


class DirectoryRoster:
    """The mesh roster from the directory document, refreshed whenever it changes; `on_change`
    is called when the set of allowed keys changed."""

    def __init__(self, documents: Documents, mesh_id: str, own_key: bytes, device_id: str, *,
                 on_change: Callable[[], None] = _nothing,
                 clock: Callable[[], float] = time.time) -> None:
        self._on_change = on_change
        self.writes: set[asyncio.Task[None]] = set()
        self._documents = documents
        self._doc_id = directory_id(mesh_id)
        self._own_key = own_key
        self._device_id = device_id
        self._clock = clock
        self._keys: frozenset[bytes] = frozenset({own_key})
        self._pending: dict[bytes, PendingInvite] = {}
        self._signers: dict[bytes, set[bytes]] = {device_prefix(device_id): {own_key}}
        # Admitted here: invite key -> own key, until (and after) the directory says so.
        self._admitted: dict[bytes, bytes] = {}
        self._unsubscribe = documents.subscribe(self._heard)

    def signers(self, device_prefix: bytes) -> set[bytes]:
        """The keys that may sign changes of the device an actor id names (meshd.attest)."""
        return self._signers.get(device_prefix, set())

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
        keys, pending = {self._own_key}, {}
        signers = keys_by_device(devices)  # whose signatures prove changes (meshd.attest)
        signers.setdefault(device_prefix(self._device_id), set()).add(self._own_key)
        for device_id, device in devices.items():
            key = _key(device.get("public_key"))
            if device.get("revoked_at") is not None or key is None:
                continue
            expires = device.get("invite_expires_at")
            if isinstance(expires, int) and device.get("invite_used_at") is None:
                if key in self._admitted:  # enrolled here; the directory write is on its way
                    keys.add(self._admitted[key])
                    signers[device_prefix(device_id)].add(self._admitted[key])
                else:
                    pending[key] = PendingInvite(device_id, expires, str(device.get("added_by")))
                continue
            keys.add(key)
            spent = _key(device.get("invite_key"))
            if spent is not None:
                self._admitted.setdefault(spent, key)
        changed = keys != self._keys
        self._keys, self._pending, self._signers = frozenset(keys), pending, signers
        if changed:
            self._on_change()

    def admit(self, invite: bytes, own: bytes) -> bool:
        """Enrol a device by its invite's key (for the handshake): only this device's own
        unexpired invites, once; True if `own` may now sync (again, for the same own key)."""
        if invite in self._admitted:
            return self._admitted[invite] == own  # a retry whose answer was lost
        pending = self._pending.get(invite)
        if pending is None or pending.inviter_id != self._device_id:
            return False  # not ours to admit: its inviter does, or nobody (used, unknown)
        now_ms = int(self._clock() * 1000)
        if now_ms >= pending.expires_at_ms:
            log.info("refused expired invite of device %s", pending.device_id)
            return False
        del self._pending[invite]
        self._admitted[invite] = own
        self._keys = self._keys | {own}
        self._signers.setdefault(device_prefix(pending.device_id), set()).add(own)
        task = asyncio.get_running_loop().create_task(self._enrol(pending, invite, own, now_ms))
        self.writes.add(task)
        task.add_done_callback(self.writes.discard)
        return True

    async def _enrol(self, pending: PendingInvite, invite: bytes, own: bytes, now_ms: int) -> None:
        author = Author(self._device_id, ROSTER_USER, now_ms)
        audit = [AuditEvent(now_ms, ROSTER_USER, "enrol_device", self._doc_id, own.hex(),
                            pending.device_id)]
        try:
            await self._documents.update(
                self._doc_id, lambda doc: directory.enrol_device(
                    doc, pending.device_id, invite.hex(), own.hex(), author),
                audit, actor=author.actor)
        except ClinicMeshError as exc:
            log.warning("cannot record the enrolment of device %s: %s", pending.device_id, exc)
        else:
            log.info("device %s used its invite", pending.device_id)

    async def _heard(self, doc_id: str, heads: tuple[bytes, ...], origin: str) -> None:
        if doc_id == self._doc_id:
            await self.refresh()

    def close(self) -> None:
        """Stop following the directory."""
        self._unsubscribe()


def _key(value: object) -> bytes | None:
    """A raw device key from its hex in the directory, or None when it is not one."""
    if isinstance(value, str) and len(value) == _KEY_HEX_CHARS:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None
    return None


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
        await asyncio.gather(*self.roster.writes, return_exceptions=True)

    def status(self, recent_docs: int = 100) -> dict[str, Any]:
        """The engine's status with the quarantine list (`GET /api/v1/sync/status`)."""
        return {**self.engine.status(recent_docs), "quarantine": self.quarantine.report()}

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
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> NodeSync:
    """Sync of this node's documents with its mesh on `host:peer_port`, dialing `peers`, built
    but not started.

    `peer_routes` add routes to the peer port's aiohttp app before it starts (pairing);
    `keyring` gives the mesh keys by epoch, newest first (membership), else `data`'s key alone;
    `max_sessions` bounds the peer sessions kept at once (meshd.sync.peering).
    """
    quarantine = Quarantine(documents)
    unspent = invite_key(data)
    # The roster calls the engine built below; it only fires once the node starts it.
    roster = DirectoryRoster(documents, data.identity.mesh_id, data.device_public_key(),
                             data.identity.device_id, on_change=lambda: engine.enforce_roster())
    credentials = Credentials(
        data.device_key, data.identity.device_name, data.mesh_key, roster, keyring=keyring,
        handoff_docs=(directory_id(data.identity.mesh_id),) if keyring is not None else (),
        enrolment=None if unspent is None else Enrolment(
            unspent, lambda: forget_invite_key(data.path)),
        admit=roster.admit,
    )
    quiet_engine_refusals()  # strangers on the LAN must not be able to grow the log at will
    engine = SyncEngine(
        credentials, DocumentsPort(documents), WebSocketTransport(host, peer_port,
                                                                  extra_routes=peer_routes),
        peers=peers, timing=timing, on_quarantine=quarantine.record, max_sessions=max_sessions,
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
