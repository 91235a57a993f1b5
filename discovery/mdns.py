"""mDNS advertise and browse for the devices of one mesh (python-zeroconf, asyncio API).

Every device advertises `_clinicmesh._tcp.local.` with the TXT of `discovery.hints` and browses
for the others; a peer of the same mesh is reported once resolved, again when its addresses, port
or pairing flag change, and as lost when it says goodbye or expires. It follows network changes
by polling its own addresses. It does not connect to anyone: the daemon dials the hints, and a
hint is never trust (anyone on the LAN can advertise anything; the sync handshake decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from types import TracebackType
from typing import Self

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from discovery.hints import (
    SERVICE_TYPE,
    PeerHint,
    check_short_id,
    hint_from_txt,
    mesh_hash,
    txt_properties,
)
from discovery.netaddrs import local_addresses

ADDRESS_POLL_S = 3.0  # how soon a new Wi-Fi or link-local address is advertised
RESOLVE_TIMEOUT_MS = 3000
_log = logging.getLogger(__name__)


class MeshDiscovery:
    """Advertise this device and report the peers of its mesh; `async with` or start/stop.

    `on_peer(hint)` and `on_peer_lost(device_short_id)` run on the event loop and must not block
    (schedule the connection as a task). `mesh_id=None` is a device not yet in any mesh (about
    to pair): it advertises nothing and reports every clinicmesh device, so the caller can pick
    those with `hint.pairing`.
    """

    def __init__(
        self,
        *,
        device_short_id: str,
        port: int,
        mesh_id: str | None,
        on_peer: Callable[[PeerHint], None],
        on_peer_lost: Callable[[str], None] | None = None,
        address_poll_s: float = ADDRESS_POLL_S,
        include_loopback: bool = False,
    ) -> None:
        self.device_short_id = check_short_id(device_short_id)
        self.port = port
        self.mesh_hash = mesh_hash(mesh_id) if mesh_id is not None else None
        self.peers: dict[str, PeerHint] = {}  # by device short id, as last reported
        self.started = asyncio.Event()  # browsing
        self.advertised = asyncio.Event()  # this device's service is announced
        self.addresses: tuple[str, ...] = ()
        self._on_peer = on_peer
        self._on_peer_lost = on_peer_lost
        self._poll_s = address_poll_s
        self._include_loopback = include_loopback
        self._pairing = False
        self._wake = asyncio.Event()
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._names: dict[str, str] = {}  # mDNS instance name -> device short id
        self._tasks: set[asyncio.Future[object]] = set()
        self._stopping = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Join mDNS on every interface (IPv4 and IPv6) and browse; advertising follows.

        Returns once browsing; `advertised` is set about a second later, when the name probe
        that mDNS requires before announcing (RFC 6762 §8.1) has passed.
        """
        if self._zc is not None:
            return
        self._zc = AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.All)
        try:
            await self._zc.zeroconf.async_wait_for_start()
            self._browser = AsyncServiceBrowser(
                self._zc.zeroconf, SERVICE_TYPE, handlers=[self._on_service_change]
            )
        except BaseException:
            await self.stop()  # leave nothing half-open behind
            raise
        if self.mesh_hash is not None:
            self._spawn(self._advertise())
        self.started.set()

    async def stop(self) -> None:
        """Say goodbye, stop browsing and polling; safe to call twice, leaves no task."""
        if self._zc is None or self._stopping:
            return
        self._stopping = True
        zc, self._zc = self._zc, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        await zc.async_close()  # sends the goodbye packets of our service
        self._info = None
        self.started.clear()
        self.advertised.clear()
        self._stopping = False

    async def set_pairing(self, open_: bool) -> None:
        """Advertise (or stop advertising) that a pairing window is open on this device."""
        self._pairing = open_
        self._wake.set()

    def _service_info(self) -> AsyncServiceInfo:
        assert self.mesh_hash is not None
        name = self._info.name if self._info else f"{self.device_short_id}.{SERVICE_TYPE}"
        return AsyncServiceInfo(
            SERVICE_TYPE,
            name,
            port=self.port,
            properties=txt_properties(self.device_short_id, self.mesh_hash, self._pairing),
            server=f"clinicmesh-{self.device_short_id}.local.",
            parsed_addresses=list(self.addresses),
        )

    async def _advertise(self) -> None:
        zc = self._zc
        assert zc is not None
        self.addresses = local_addresses(include_loopback=self._include_loopback)
        info = self._service_info()
        # What `info` says: set_pairing may run during the probe, and must then re-advertise.
        published = (self.addresses, self._pairing)
        self._track(await zc.async_register_service(info, allow_name_change=True))
        self._info = info
        self.advertised.set()
        while True:
            # Woken at once by set_pairing; polled for address changes (no portable event).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()
            current = local_addresses(include_loopback=self._include_loopback)
            try:
                if current != self.addresses:
                    _log.info("addresses now %s: re-advertising", ", ".join(current) or "none")
                    self.addresses = current
                    await zc.async_update_interfaces()  # sockets for new interfaces
                if (self.addresses, self._pairing) != published:
                    # A fresh ServiceInfo: zeroconf caches the records it built from the old.
                    self._info = self._service_info()
                    self._track(await zc.async_update_service(self._info))
                    published = (self.addresses, self._pairing)
            except OSError as error:  # an interface vanished mid-update: the next poll retries
                _log.warning("re-advertising failed: %s", error)
                self.addresses = ()

    def _on_service_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if self._zc is None:
            return
        if state_change is ServiceStateChange.Removed:
            device = self._names.pop(name, None)
            if device is not None and self.peers.pop(device, None) is not None:
                self._call(self._on_peer_lost, device)
            return
        self._spawn(self._resolve(name))

    async def _resolve(self, name: str) -> None:
        zc = self._zc
        if zc is None:
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(zc.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        hint = hint_from_txt(
            info.decoded_properties, info.parsed_scoped_addresses(IPVersion.All), info.port
        )
        if hint is None or hint.device_short_id == self.device_short_id:
            return
        if self.mesh_hash is not None and hint.mesh_hash != self.mesh_hash:
            _log.debug("ignoring device %s of another mesh", hint.device_short_id)
            return  # another clinic's mesh on the same LAN
        self._names[name] = hint.device_short_id
        if self.peers.get(hint.device_short_id) == hint:
            return
        self.peers[hint.device_short_id] = hint
        try:
            self._on_peer(hint)
        except Exception:
            _log.exception("peer callback failed")  # the daemon's bug must not stop mDNS

    def _call(self, callback: Callable[[str], None] | None, device: str) -> None:
        if callback is None:
            return
        try:
            callback(device)
        except Exception:
            _log.exception("peer-lost callback failed")  # the daemon's bug must not stop mDNS

    def _spawn(self, coro: Awaitable[object]) -> None:
        self._track(asyncio.ensure_future(coro))

    def _track(self, awaitable: Awaitable[object]) -> None:
        future = asyncio.ensure_future(awaitable)
        if future.done():
            return
        self._tasks.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: asyncio.Future[object]) -> None:
        self._tasks.discard(future)
        if not future.cancelled() and future.exception() is not None:
            _log.warning("mDNS task failed: %r", future.exception())


async def find_inviting_device(
    *, device_short_id: str, timeout_s: float, include_loopback: bool = False
) -> PeerHint:
    """The first device on the LAN with an open pairing window; TimeoutError after timeout_s.

    For a new device (no mesh yet) that was given only the 6-digit code.
    """
    async with contextlib.aclosing(inviting_devices(
        device_short_id=device_short_id, timeout_s=timeout_s, quiet_s=0.0,
        include_loopback=include_loopback,
    )) as hints:
        async for hint in hints:
            return hint
    raise TimeoutError(f"no device showed a pairing code within {timeout_s} s")


async def inviting_devices(
    *, device_short_id: str, timeout_s: float, quiet_s: float, include_loopback: bool = False
) -> AsyncGenerator[PeerHint]:
    """Each device on the LAN with an open pairing window, once, as it is heard.

    Waits up to `timeout_s` for the first; after each one, up to `quiet_s` for another, then
    ends. For a new device trying its code on every device that shows one.
    """
    found: asyncio.Queue[PeerHint] = asyncio.Queue()
    seen: set[str] = set()

    def on_peer(hint: PeerHint) -> None:
        if hint.pairing and hint.device_short_id not in seen:
            seen.add(hint.device_short_id)
            found.put_nowait(hint)

    async with MeshDiscovery(
        device_short_id=device_short_id, port=0, mesh_id=None, on_peer=on_peer,
        include_loopback=include_loopback,
    ):
        wait_s = timeout_s
        while True:
            try:
                hint = await asyncio.wait_for(found.get(), wait_s)
            except TimeoutError:
                return
            yield hint
            wait_s = quiet_s


async def list_inviting_devices(
    *, device_short_id: str, listen_s: float, include_loopback: bool = False
) -> list[PeerHint]:
    """Every device on the LAN with an open pairing window, heard within `listen_s`.

    For a new device choosing whom to join when more than one device offers a code.
    """
    found: dict[str, PeerHint] = {}

    def on_peer(hint: PeerHint) -> None:
        if hint.pairing:
            found[hint.device_short_id] = hint

    async with MeshDiscovery(device_short_id=device_short_id, port=0, mesh_id=None,
                             on_peer=on_peer, include_loopback=include_loopback):
        await asyncio.sleep(listen_s)  # mDNS answers trickle in: listening is the point
    return sorted(found.values(), key=lambda hint: hint.device_short_id)
