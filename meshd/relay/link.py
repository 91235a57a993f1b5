"""A node's link to the central relay, with the credential its mesh directory holds.

Every device of the clinic reads the credential from `directory:<mesh>` (written by `meshd
relay-link` on any one of them), dials the relay over TLS trusting the credential's
certificate (never with checks off), proves the credential's secret and its own device key in
the usual handshake, and hands the channel to its sync engine (`SyncEngine.run_link`): the same
push and anti-entropy as with a LAN peer, both ways. While unreachable it retries with
exponential backoff and jitter. It also carries the node's relay API calls (search, pull):
`request_api`, which a district relay's upstream link (meshd.relay.upstream) uses too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from crdt_model import directory
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.lifecycle import Lifecycle
from meshd.relay import credential as cred
from meshd.relay.credential import Credential
from meshd.sync import handshake
from meshd.sync.engine import SyncEngine
from meshd.sync.handshake import Credentials, SecureChannel
from meshd.sync.ports import Heads, LinkClosed
from meshd.sync.timing import SyncTiming
from meshd.sync.websocket import _MAX_MSG_SIZE, CONNECT_TIMEOUT_S, HEARTBEAT_S, WebSocketLink

log = logging.getLogger(__name__)

API_TIMEOUT_S = 15.0
CONNECTED, CONNECTING, UNREACHABLE = "connected", "connecting", "unreachable"


class RelayUnavailable(ClinicMeshError):
    """No relay credential, or the relay can't be reached or refused the request."""

    code = "relay_unavailable"


async def request_api(client: aiohttp.ClientSession, found: Credential, method: str, path: str,
                      bearer: str, timeout_s: float, unreachable: str) -> tuple[int, Any]:
    """One request to the API of the relay `found` names, trusting its certificate, with
    `bearer`; (status, JSON answer), RelayUnavailable("`unreachable`: why") if unreachable."""
    try:
        async with asyncio.timeout(timeout_s), client.request(
            method, found.url.rstrip("/") + path, ssl=found.ssl_context(),
            headers={"Authorization": f"Bearer {bearer}"},
        ) as response:
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        raise RelayUnavailable(f"{unreachable}: {exc}") from exc


class LinkLoop(Lifecycle):
    """Keeps one link to a relay up while a credential is known: dial, handshake, hand the
    channel to a sync engine, and retry with exponential backoff and jitter. Subclasses say
    where the credential comes from (`_read`) and how to dial with it (`_target`)."""

    def __init__(self, engine: SyncEngine, timing: SyncTiming | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._timing = timing or SyncTiming()
        self._clock = clock
        self.credential: Credential | None = None
        self.state = UNREACHABLE
        self.last_contact_ms: int | None = None
        self._changed = asyncio.Event()
        self._link: WebSocketLink | None = None
        self._client: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read the credential and keep the link up in the background."""
        self._client = aiohttp.ClientSession()
        await self._read()
        self._task = asyncio.create_task(self._keep_linked())

    async def stop(self) -> None:
        """End the link and its task; safe twice."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._link is not None:
            await self._link.close()
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _read(self) -> None:
        """Take up the credential (subclasses); `_use` it."""

    async def _use(self, found: Credential | None) -> None:
        """Dial with `found` from now on (None: stay unlinked)."""
        if found != self.credential:
            self.credential = found
            self._changed.set()
            if self._link is not None:  # the next dial uses the new credential
                await self._link.close()

    def _target(self, found: Credential) -> tuple[str, Credentials]:
        """The WebSocket URL to dial and what this side proves in the handshake."""
        raise NotImplementedError

    def _headers(self, found: Credential) -> dict[str, str]:
        """HTTP headers of the WebSocket request (none: the handshake proves the secret)."""
        return {}

    def _linked(self, channel: SecureChannel) -> None:
        """Mark a fresh channel: the relay is on no roster, its credential vouches for it."""
        channel.linked = True

    async def _keep_linked(self) -> None:
        failures = 0
        while True:
            self._changed.clear()
            if self.credential is None:
                await self._changed.wait()
                continue
            self.state = CONNECTING if failures == 0 else UNREACHABLE
            try:
                lasted = await self._dial_once(self.credential)
            except Exception:  # a bug must cost one attempt, never the link
                log.exception("the relay link failed")
                lasted = False
            self.state = UNREACHABLE
            failures = 0 if lasted else failures + 1
            delay = min(self._timing.reconnect_max_s,
                        self._timing.reconnect_min_s * 2 ** min(failures, 16))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay * random.uniform(0.5, 1.5)):
                    await self._changed.wait()  # a new credential is tried at once

    async def _dial_once(self, found: Credential) -> bool:
        """Dial, authenticate and sync until the link drops; whether it got to syncing."""
        assert self._client is not None
        url, mine = self._target(found)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                ws = await self._client.ws_connect(url, ssl=found.ssl_context(),
                                                   heartbeat=HEARTBEAT_S,
                                                   headers=self._headers(found),
                                                   max_msg_size=_MAX_MSG_SIZE)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.info("cannot reach the relay %s: %s", found.url, exc)
            return False
        link = self._link = WebSocketLink(ws, found.url, lambda _link: None)
        try:
            channel = await handshake.dial(link, mine, self._timing.handshake_timeout_s)
        except (ClinicMeshError, TimeoutError, OSError, LinkClosed) as exc:
            log.warning("the relay refused this credential: %s", exc)
            await link.close()
            return False
        self._linked(channel)
        self.state = CONNECTED
        self.last_contact_ms = int(self._clock() * 1000)
        try:
            return await self._engine.run_link(channel, found.url)
        finally:
            self.last_contact_ms = int(self._clock() * 1000)
            self._link = None
            await link.close()


class RelayLink(LinkLoop):
    """Keeps this device linked to its clinic's relay while the directory names one."""

    def __init__(self, documents: Documents, data: DataDir, engine: SyncEngine,
                 timing: SyncTiming | None = None, clock: Callable[[], float] = time.time,
                 ) -> None:
        super().__init__(engine, timing, clock)
        self._documents = documents
        self._data = data
        self._doc_id = directory_id(data.identity.mesh_id)
        self._unsubscribe: Callable[[], None] | None = None

    def trusted_keys(self, device_keys: Callable[[bytes], Iterable[bytes]]
                     ) -> Callable[[bytes], Iterable[bytes]]:
        """`keys_for` of meshd.attest: the roster's keys, else the relay's (cred.with_relay)."""
        return cred.with_relay(device_keys, self._relay_keys)

    def _relay_keys(self) -> set[bytes]:
        return set() if self.credential is None else {self.credential.relay_public}

    async def start(self) -> None:
        """Follow the directory's credential and keep the link up in the background."""
        self._unsubscribe = self._documents.subscribe(self._heard)
        await super().start()

    async def stop(self) -> None:
        """End the link and its task; safe twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await super().stop()

    def status(self) -> dict[str, Any] | None:
        """`"relay"` of GET /api/v1/sync/status: {url, clinic, relay_key, state,
        last_contact_ms}, or None without a credential."""
        if self.credential is None:
            return None
        return {"url": self.credential.url, "clinic": self.credential.clinic,
                "relay_key": self.credential.relay_key, "state": self.state,
                "last_contact_ms": self.last_contact_ms}

    async def _heard(self, doc_id: str, heads: Heads, origin: str) -> None:
        if doc_id == self._doc_id:
            await self._read()

    async def _read(self) -> None:
        try:
            text = await self._documents.read(self._doc_id, directory.relay_credential)
            found = cred.parse(text) if text else None
        except ClinicMeshError as exc:
            log.warning("the relay credential in the directory is not usable: %s", exc)
            found = None
        await self._use(found)

    def _target(self, found: Credential) -> tuple[str, Credentials]:
        return found.sync_url(self._data.identity.mesh_id), Credentials(
            self._data.device_key, self._data.identity.device_name, found.mesh_key,
            lambda: {found.relay_public})

    async def call(self, method: str, path: str) -> tuple[int, Any]:
        """One request to the relay's API with the credential; (status, JSON answer)."""
        found = self.credential
        if found is None or self._client is None:
            raise RelayUnavailable("this clinic has no relay credential: meshd relay-link")
        return await request_api(self._client, found, method, path, found.bearer, API_TIMEOUT_S,
                                 "the relay can't be reached")
