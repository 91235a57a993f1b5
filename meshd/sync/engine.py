"""The sync engine: keeps this device's documents converged with every peer it can reach.

It accepts and dials peer links (through a Transport), authenticates them, runs one PeerSession
per peer (at most `max_sessions`; whom to dial is meshd.sync.peering's choice), hands every
document change on to every peer but the one it came from (multi-hop: pushed whole on eager
links, announced on lazy ones: meshd.sync.gossip), runs anti-entropy on connect and every
`anti_entropy_interval_s`, quarantines bad data and backs off peers that keep sending it. It
owns its tasks: after `stop()` none is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from crdt_model.errors import ClinicMeshError
from meshd.lifecycle import Lifecycle
from meshd.sync import gossip, handshake
from meshd.sync.dialer import Dialer
from meshd.sync.digest import HeadsDigest
from meshd.sync.handover import hand_over
from meshd.sync.handshake import Credentials, SecureChannel
from meshd.sync.peer import BadData, PeerMisbehaving, PeerSession
from meshd.sync.peering import DEFAULT_MAX_SESSIONS, PeerChoice
from meshd.sync.ports import (
    DocChange,
    Link,
    QuarantineRecord,
    SyncedBlobs,
    SyncedDocuments,
    Transport,
)
from meshd.sync.status import PeerRecord, engine_status
from meshd.sync.timing import SyncTiming

log = logging.getLogger(__name__)

RECENT_CHANGES_KEPT = 1000  # documents the status can list as recently changed


class SyncEngine(Lifecycle):
    """Peer sessions, push, anti-entropy and status for one device."""

    def __init__(
        self, credentials: Credentials, documents: SyncedDocuments, transport: Transport, *,
        peers: Sequence[str] = (), timing: SyncTiming | None = None,
        on_quarantine: Callable[[QuarantineRecord], None] | None = None,
        clock: Callable[[], float] = time.time, blobs: SyncedBlobs | None = None,
        max_sessions: int | None = DEFAULT_MAX_SESSIONS, rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self._blobs = blobs  # attachment blobs, answered and received by the sessions
        self.started = asyncio.Event()
        self._documents = documents
        self._transport = transport
        self._static_peers = list(peers)
        self._timing = timing or SyncTiming()
        self._on_quarantine = on_quarantine
        self._clock = clock
        self._index = HeadsDigest()
        self._changed_ms: dict[str, int] = {}
        self._sessions: dict[str, PeerSession] = {}
        self._records: dict[str, PeerRecord] = {}
        self._rng = rng or random.Random()
        self._choice = PeerChoice(max_sessions, self._rng,
                                  retry_min_s=self._timing.reconnect_min_s,
                                  retry_max_s=self._timing.reconnect_max_s)
        self._frames_ended: Counter[str] = Counter()  # frames sent in sessions that ended
        self._banned_until: dict[str, float] = {}
        self._handshaking: set[Link] = set()
        self._dialer = Dialer(
            credentials, transport, self._timing, self._choice, self._sessions, self._handshaking,
            run=lambda channel, address: self._run(channel, address, dialed=True),
            hand_over=self._hand_over, spawn=self._spawn,
            banned_until=lambda peer_id: self._banned_until.get(peer_id, 0.0),
            on_dial=self._list,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = False
        self.quarantined = 0
        self.refused = 0

    @property
    def address(self) -> str:
        """HOST:PORT peers dial to reach this engine."""
        return self._transport.address

    async def start(self) -> None:
        """Index the local documents, listen, and dial every static peer."""
        self._index = await self._documents.heads_index()
        self._unsubscribe = self._documents.subscribe(self._on_change)
        await self._transport.start(self._accept)
        for address in self._static_peers:
            self.add_peer(address, pinned=True)
        self._spawn(self._dialer.run())
        self._spawn(self._anti_entropy_loop())
        self.started.set()

    async def stop(self) -> None:
        """Close every session and link and end every task; safe to call twice."""
        if self._stopping:
            return
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        for session in list(self._sessions.values()):
            session.close()
        for link in list(self._handshaking):
            await link.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._transport.stop()

    def add_peer(self, address: str, *, pinned: bool = False) -> None:
        """Know the peer at HOST:PORT (e.g. from mDNS) and keep a session with it, reconnecting
        with backoff, if it is pinned or among those chosen (meshd.sync.peering)."""
        if address == self.address or self._stopping:
            return
        self._choice.add(address, pinned=pinned)
        self._dialer.wake.set()

    def enforce_roster(self) -> None:
        """End sessions with peers no longer on the roster (e.g. a device just revoked)."""
        allowed = self.credentials.roster()
        for session in list(self._sessions.values()):
            if session.channel.peer_key not in allowed and not session.channel.linked:
                log.warning("ending the session with %s: no longer on the roster",
                            session.channel.peer_name)
                session.close()

    def end_outdated_sessions(self) -> None:
        """End sessions opened with an older mesh key than the newest held (after a rotation);
        their peers redial with the new key, or are handed the directory that carries it."""
        newest = self.credentials.mesh_keys()[0][0]
        for session in list(self._sessions.values()):
            if session.channel.key_epoch < newest and not session.channel.linked:
                log.info("ending the session with %s: the mesh key changed",
                         session.channel.peer_name)
                session.close()

    def sessions(self) -> list[PeerSession]:
        """The live peer sessions."""
        return list(self._sessions.values())

    def frames_sent(self) -> Counter[str]:
        """Messages sent to peers so far, by kind (every message is one frame)."""
        total = Counter(self._frames_ended)
        for session in self._sessions.values():
            total.update(session.sent)
        return total

    def connected_peers(self) -> list[str]:
        """Device ids (hex keys) of the peers with a live session."""
        return list(self._sessions)

    def status(self, recent_docs: int = 100) -> dict[str, Any]:
        """Peers and documents as `GET /api/v1/sync/status` shows them."""
        device = {"device_id": self.credentials.device_public.hex(),
                  "device_name": self.credentials.device_name, "address": self.address}
        counters = {"quarantined": self.quarantined, "handshakes_refused": self.refused}
        return engine_status(device, self._records.values(), self._changed_ms, len(self._index),
                             counters, recent_docs, self._clock())

    async def run_link(self, channel: SecureChannel, address: str) -> bool:
        """A session over a channel this device dialed with other credentials (`linked`: the
        relay link, meshd.relay.link), whatever the roster says; whether it ran."""
        return await self._run(channel, address, dialed=True)

    # --- changes -------------------------------------------------------------------------

    def _on_change(self, change: DocChange) -> None:
        self._index.update(change.doc_id, change.heads)
        # Newest last and bounded: the status shows the most recent, and reads no further.
        self._changed_ms.pop(change.doc_id, None)
        self._changed_ms[change.doc_id] = int(self._clock() * 1000)
        if len(self._changed_ms) > RECENT_CHANGES_KEPT:
            del self._changed_ms[next(iter(self._changed_ms))]
        gossip.spread(change, self._sessions, not self._choice.small, self._rng)

    async def _anti_entropy_loop(self) -> None:
        while True:
            await asyncio.sleep(self._timing.anti_entropy_interval_s)
            for session in self._sessions.values():
                session.request_anti_entropy(periodic=True)

    # --- sessions ------------------------------------------------------------------------

    async def _accept(self, link: Link) -> None:
        self._handshaking.add(link)
        try:
            channel = await handshake.accept(
                link, self.credentials, self._timing.handshake_timeout_s
            )
        except (ClinicMeshError, TimeoutError, OSError) as exc:
            log.info("refused a peer link from %s: %s", link.remote, exc)
            self.refused += 1
            await link.close()
            return
        finally:
            self._handshaking.discard(link)
        if channel.outdated_key and self.credentials.handoff_docs:
            await self._hand_over(channel)
            return
        await self._run(channel, link.remote, dialed=False)

    async def _hand_over(self, channel: SecureChannel) -> None:
        await hand_over(channel, self._documents, self.credentials.handoff_docs,
                        self._timing.handshake_timeout_s)

    async def _run(self, channel: SecureChannel, address: str, dialed: bool) -> bool:
        """Run a session unless the peer is banned or already connected; whether it ran."""
        peer_id = channel.peer_id
        if self._banned_until.get(peer_id, 0.0) > time.monotonic() or self._stopping:
            await channel.link.close()
            return False
        session = PeerSession(
            channel, address, dialed, self._documents, self._index,
            lambda bad: self._quarantine(channel, bad), self._blobs,
            pruning=lambda: not self._choice.small, lazy_delay_s=self._timing.lazy_push_delay_s,
        )
        existing = self._sessions.get(peer_id)
        if existing is None and self._choice.full(len(self._sessions)) and not (
                dialed and self._choice.pinned(address)):  # a pinned peer is always kept
            return await self._refuse(session)
        if existing is not None:
            # Both ends keep the session dialed by the lower device key, so they agree; between
            # equals the newer one wins (the older is likely a dead link not yet noticed).
            me = self.credentials.device_public
            if _canonical(session, me) > _canonical(existing, me):
                await channel.link.close()
                return False
            existing.close()
            await existing.finished.wait()
        self._sessions[peer_id] = session
        record = self._records.setdefault(peer_id, PeerRecord(address=address))
        record.attach(session, self._clock())
        self._records.pop("@" + address, None)
        if len(self._index) or len(self._sessions) == 1:
            session.request_anti_entropy()
        # else: an empty device already downloading from another peer waits for the next round,
        # so it is not sent every document once per peer.
        try:
            await session.run()
        except PeerMisbehaving as exc:
            log.warning("disconnected %s: %s", channel.peer_name, exc)
            self._banned_until[peer_id] = time.monotonic() + self._timing.misbehaving_ban_s
        finally:
            if self._sessions.get(peer_id) is session:
                del self._sessions[peer_id]
                if not self._choice.small and not self._stopping and not session.busy:
                    gossip.repair(session, list(self._sessions.values()), self._rng)
            record.detach(session, self._clock())
            self._frames_ended.update(session.sent)
            self._dialer.wake.set()  # a dropped peer is replaced
        return not session.busy

    async def _refuse(self, session: PeerSession) -> bool:
        """No room for this session: the dialer is told (Busy) so it tries another device."""
        if session.dialed:
            await session.channel.link.close()  # room was taken while we dialed: no penalty
            return True
        session.refuse_busy()
        with contextlib.suppress(PeerMisbehaving):
            await session.run()
        self._frames_ended.update(session.sent)
        return False

    def _list(self, address: str) -> None:
        """Show a peer being dialed in the status before it answers."""
        self._records.setdefault("@" + address, PeerRecord(address=address))

    def _quarantine(self, channel: SecureChannel, bad: BadData) -> None:
        log.warning("bad data from %s for %r: %s", channel.peer_name, bad.doc_id, bad.reason)
        if bad.doc_id:  # else a malformed message, not a document: counted as a strike only
            self.quarantined += 1
            if self._on_quarantine is not None:
                self._on_quarantine(bad.record(channel, int(self._clock() * 1000)))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _canonical(session: PeerSession, me: bytes) -> int:
    """0 for the session dialed by the lower of the two device keys, 1 for the other one."""
    dialer = me if session.dialed else session.channel.peer_key
    return 0 if dialer == min(me, session.channel.peer_key) else 1
