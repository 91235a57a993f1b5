"""The sync engine: keeps this device's documents converged with every peer it can reach.

It accepts and dials peer links (through a Transport), authenticates them, runs one PeerSession
per peer (at most `max_sessions`; whom to dial is meshd.sync.peering's choice), hands every
document change on to every peer but the one it came from (multi-hop: pushed whole on eager
links, announced on lazy ones, see meshd.sync.peer), runs anti-entropy on connect and every
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
from meshd.sync import handshake
from meshd.sync.digest import HeadsDigest
from meshd.sync.handover import hand_over
from meshd.sync.handshake import Credentials, SecureChannel
from meshd.sync.peer import BadData, PeerMisbehaving, PeerSession
from meshd.sync.peering import DEFAULT_MAX_SESSIONS, PeerChoice
from meshd.sync.ports import (
    DocChange,
    Link,
    LinkClosed,
    QuarantineRecord,
    SyncedDocuments,
    Transport,
)
from meshd.sync.status import PeerRecord, engine_status
from meshd.sync.timing import SyncTiming

log = logging.getLogger(__name__)

MAX_OLDER_KEYS = 3  # mesh key epochs a dialer falls back through (membership key rotation)
RECENT_CHANGES_KEPT = 1000  # documents the status can list as recently changed
# Lazy gossip: each change is announced to this many lazy peers, at random (Plumtree announces
# to all: with hundreds of devices that costs more frames than the pushes themselves). Eager
# links lost are grafted back at once, and anti-entropy still finds anything missed.
LAZY_FANOUT = 1
PEERING_CHECK_S = 5.0  # the longest the dialer sleeps without looking at its sessions


class SyncEngine(Lifecycle):
    """Peer sessions, push, anti-entropy and status for one device."""

    def __init__(
        self, credentials: Credentials, documents: SyncedDocuments, transport: Transport, *,
        peers: Sequence[str] = (), timing: SyncTiming | None = None,
        on_quarantine: Callable[[QuarantineRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_sessions: int | None = DEFAULT_MAX_SESSIONS, rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
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
        self._address_peer: dict[str, str] = {}
        self._rng = rng or random.Random()
        self._choice = PeerChoice(max_sessions, self._rng,
                                  retry_min_s=self._timing.reconnect_min_s,
                                  retry_max_s=self._timing.reconnect_max_s)
        self._peering = asyncio.Event()  # set when whom to dial may have changed
        self._frames_ended: Counter[str] = Counter()  # frames sent in sessions that ended
        self._banned_until: dict[str, float] = {}
        self._handshaking: set[Link] = set()
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
        self._index = HeadsDigest(await self._documents.heads_index())
        self._unsubscribe = self._documents.subscribe(self._on_change)
        await self._transport.start(self._accept)
        for address in self._static_peers:
            self.add_peer(address, pinned=True)
        self._spawn(self._peering_loop())
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
        self._peering.set()

    def enforce_roster(self) -> None:
        """End sessions with peers no longer on the roster (e.g. a device just revoked)."""
        allowed = self.credentials.roster()
        for session in list(self._sessions.values()):
            if session.channel.peer_key not in allowed:
                log.warning("ending the session with %s: no longer on the roster",
                            session.channel.peer_name)
                session.close()

    def end_outdated_sessions(self) -> None:
        """End sessions opened with an older mesh key than the newest held (after a rotation);
        their peers redial with the new key, or are handed the directory that carries it."""
        newest = self.credentials.mesh_keys()[0][0]
        for session in list(self._sessions.values()):
            if session.channel.key_epoch < newest:
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
        device = {
            "device_id": self.credentials.device_public.hex(),
            "device_name": self.credentials.device_name,
            "address": self.address,
        }
        counters = {"quarantined": self.quarantined, "handshakes_refused": self.refused}
        return engine_status(device, self._records.values(), self._changed_ms, len(self._index),
                             counters, recent_docs, self._clock())

    # --- changes -------------------------------------------------------------------------

    def _on_change(self, change: DocChange) -> None:
        self._index.update(change.doc_id, change.heads)
        # Newest last and bounded: the status shows the most recent, and reads no further.
        self._changed_ms.pop(change.doc_id, None)
        self._changed_ms[change.doc_id] = int(self._clock() * 1000)
        if len(self._changed_ms) > RECENT_CHANGES_KEPT:
            del self._changed_ms[next(iter(self._changed_ms))]
        gossip = not self._choice.small
        lazy: list[PeerSession] = []
        for peer_id, session in self._sessions.items():
            if peer_id == change.origin:
                continue
            if session.eager or not gossip:
                session.push(change)
            elif not session.has(change):
                lazy.append(session)
        for session in self._rng.sample(lazy, min(LAZY_FANOUT, len(lazy))):
            session.announce(change)

    async def _anti_entropy_loop(self) -> None:
        while True:
            await asyncio.sleep(self._timing.anti_entropy_interval_s)
            for session in self._sessions.values():
                session.request_anti_entropy()

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

    async def _peering_loop(self) -> None:
        """Dial whom the choice says, whenever sessions, candidates or backoffs change."""
        while True:
            self._peering.clear()
            now = time.monotonic()
            for address in self._choice.to_dial(len(self._sessions), self._connected(), now):
                self._spawn(self._dial(address))
            wait_s = self._choice.next_retry_s(now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait_s or PEERING_CHECK_S, PEERING_CHECK_S)):
                    await self._peering.wait()

    def _connected(self) -> set[str]:
        """Known addresses of the peers with a live session."""
        live = {s.address for s in self._sessions.values()}
        live.update(a for a, p in self._address_peer.items() if p in self._sessions)
        return live

    async def _dial(self, address: str) -> None:
        if self._sessions.get(self._address_peer.get(address, "")) is None:
            self._records.setdefault("@" + address, PeerRecord(address=address))  # listed
        started = time.monotonic()
        try:
            ran = await self._dial_once(address)
        except Exception:  # a bug must cost one attempt, never the dialer
            log.exception("dialing %s failed", address)
            ran = False
        banned_s = self._banned_until.get(self._address_peer.get(address, ""), 0.0)
        now = time.monotonic()
        self._choice.ended(address, ran_s=now - started if ran else None, now_s=now,
                           not_before_s=banned_s)
        self._peering.set()

    async def _dial_once(self, address: str) -> bool:
        """Dial, authenticate and run one session; whether it got as far as syncing."""
        # A listener that hangs up on our newest mesh key may have been offline during a key
        # rotation: older keys are tried (at most MAX_OLDER_KEYS), and it is handed the directory.
        tries = min(len(self.credentials.mesh_keys()), 1 + MAX_OLDER_KEYS)
        for key_index in range(tries):
            try:
                link = await self._transport.connect(address)
            except (ClinicMeshError, OSError, TimeoutError) as exc:
                log.debug("cannot reach peer %s: %s", address, exc)
                return False
            self._handshaking.add(link)
            try:
                channel = await handshake.dial(
                    link, self.credentials, self._timing.handshake_timeout_s, key_index
                )
            except (ClinicMeshError, TimeoutError, OSError) as exc:
                log.info("handshake with %s failed: %s", address, exc)
                await link.close()
                if isinstance(exc, LinkClosed) and self.credentials.handoff_docs:
                    continue
                return False
            finally:
                self._handshaking.discard(link)
            if channel.outdated_key:
                await self._hand_over(channel)
                return True  # redial soon, with the newest key it now holds too
            self._address_peer[address] = channel.peer_id
            return await self._run(channel, address, dialed=True)
        return False

    async def _run(self, channel: SecureChannel, address: str, dialed: bool) -> bool:
        """Run a session unless the peer is banned or already connected; whether it ran."""
        peer_id = channel.peer_id
        if self._banned_until.get(peer_id, 0.0) > time.monotonic() or self._stopping:
            await channel.link.close()
            return False
        session = PeerSession(
            channel, address, dialed, self._documents, self._index,
            lambda bad: self._quarantine(channel, bad),
            pruning=lambda: not self._choice.small, lazy_delay_s=self._timing.lazy_push_delay_s,
        )
        existing = self._sessions.get(peer_id)
        if existing is None and self._choice.full(len(self._sessions)):
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
                self._replace_eager(session)
            record.detach(session, self._clock())
            self._frames_ended.update(session.sent)
            self._peering.set()  # a dropped peer is replaced
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

    def _replace_eager(self, ended: PeerSession) -> None:
        """An eager link ended: graft a lazy one, so the gossip tree is not left cut in two
        (a cycle this makes is pruned by the next change that arrives twice)."""
        if not ended.eager or self._choice.small or self._stopping:
            return
        lazy = [s for s in self._sessions.values() if not s.eager]
        if lazy:
            self._rng.choice(lazy).graft()

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
