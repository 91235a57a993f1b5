"""The engine's dialing side: dials the peers meshd.sync.peering chooses, keeps them dialed
with backoff, and replaces those that drop. Each dial authenticates (falling back to older mesh
keys for a listener that missed a key rotation, which is handed the directory instead) and
then runs its session through the engine, lasting as long as the session does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from crdt_model.errors import ClinicMeshError
from meshd.sync import handshake
from meshd.sync.handshake import Credentials, SecureChannel
from meshd.sync.peering import PeerChoice
from meshd.sync.ports import Link, LinkClosed, Transport
from meshd.sync.timing import SyncTiming

log = logging.getLogger(__name__)

MAX_OLDER_KEYS = 3  # mesh key epochs a dialer falls back through (membership key rotation)
PEERING_CHECK_S = 5.0  # the longest the dialer sleeps without looking at its sessions


class Dialer:
    """Dials whom the choice says, whenever sessions, candidates or backoffs change (`wake`)."""

    def __init__(
        self, credentials: Credentials, transport: Transport, timing: SyncTiming,
        choice: PeerChoice, sessions: Mapping[str, Any], handshaking: set[Link], *,
        run: Callable[[SecureChannel, str], Awaitable[bool]],
        hand_over: Callable[[SecureChannel], Awaitable[None]],
        banned_until: Callable[[str], float], on_dial: Callable[[str], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.wake = asyncio.Event()
        self.address_peer: dict[str, str] = {}  # dialed address -> the device found there
        self._credentials = credentials
        self._transport = transport
        self._timing = timing
        self._choice = choice
        self._sessions = sessions
        self._handshaking = handshaking
        self._run = run
        self._hand_over = hand_over
        self._banned_until = banned_until
        self._on_dial = on_dial
        self._spawn = spawn

    async def run(self) -> None:
        """Dial, then sleep until something changes or a backoff ends; until cancelled."""
        while True:
            self.wake.clear()
            now = time.monotonic()
            for address in self._choice.to_dial(len(self._sessions), self.connected(), now):
                self._spawn(self._dial(address))
            wait_s = self._choice.next_retry_s(now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait_s or PEERING_CHECK_S, PEERING_CHECK_S)):
                    await self.wake.wait()

    def connected(self) -> set[str]:
        """Known addresses of the peers with a live session."""
        live = {s.address for s in self._sessions.values()}
        live.update(a for a, p in self.address_peer.items() if p in self._sessions)
        return live

    async def _dial(self, address: str) -> None:
        if self.address_peer.get(address, "") not in self._sessions:
            self._on_dial(address)
        started = time.monotonic()
        try:
            ran = await self._dial_once(address)
        except Exception:  # a bug must cost one attempt, never the dialer
            log.exception("dialing %s failed", address)
            ran = False
        now = time.monotonic()
        self._choice.ended(address, ran_s=now - started if ran else None, now_s=now,
                           not_before_s=self._banned_until(self.address_peer.get(address, "")))
        self.wake.set()

    async def _dial_once(self, address: str) -> bool:
        """Dial, authenticate and run one session; whether it got as far as syncing."""
        # A listener that hangs up on our newest mesh key may have been offline during a key
        # rotation: older keys are tried (at most MAX_OLDER_KEYS), and it is handed the directory.
        tries = min(len(self._credentials.mesh_keys()), 1 + MAX_OLDER_KEYS)
        for key_index in range(tries):
            try:
                link = await self._transport.connect(address)
            except (ClinicMeshError, OSError, TimeoutError) as exc:
                log.debug("cannot reach peer %s: %s", address, exc)
                return False
            self._handshaking.add(link)
            try:
                channel = await handshake.dial(
                    link, self._credentials, self._timing.handshake_timeout_s, key_index
                )
            except (ClinicMeshError, TimeoutError, OSError) as exc:
                log.info("handshake with %s failed: %s", address, exc)
                await link.close()
                if isinstance(exc, LinkClosed) and self._credentials.handoff_docs:
                    continue
                return False
            finally:
                self._handshaking.discard(link)
            if channel.outdated_key:
                await self._hand_over(channel)
                return True  # redial soon, with the newest key it now holds too
            self.address_peer[address] = channel.peer_id
            return await self._run(channel, address)
        return False
