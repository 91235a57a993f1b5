"""What the peer port lets a stranger do before any handshake: little, briefly, quietly.

The peer port listens on the LAN, so anyone there (or a web page a clinician opens) can reach
it. Before a link authenticates this module bounds what that costs the node:

- connections: at most MAX_CONNECTIONS in all and MAX_PER_ADDRESS from one address; more are
  closed as soon as they are accepted (refusing them costs one file descriptor for a moment);
- time: a connection must send the headers of a WebSocket upgrade within UPGRADE_TIMEOUT_S of
  being accepted, or it is closed (headers that never end, idle keep-alives); from then on the
  handshake timeout (or the pairing session's) bounds it;
- browsers: an upgrade carrying an `Origin` header comes from a web page, never from a peer
  (aiohttp clients send none), and is refused with 403;
- logs: refusals are counted and summarised at most once per SUMMARY_INTERVAL_S.

Frame sizes before authentication are bounded by the Link (meshd.sync.websocket), and the
handshake itself by the engine's handshake timeout. This module never reads a frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 128  # a clinic has tens of devices, each with a link or two to this one
MAX_PER_ADDRESS = 32  # one device dials once per address; tests run many nodes on loopback
UPGRADE_TIMEOUT_S = 10.0  # headers and upgrade take milliseconds, a second on a bad link
KEEPALIVE_TIMEOUT_S = 5.0  # nothing but upgrades is served here: no reason to keep idling
SUMMARY_INTERVAL_S = 60.0
# The engine logs each failed handshake with this message; the summary counts them instead.
ENGINE_LOGGER = "meshd.sync.engine"
ENGINE_REFUSAL_MESSAGE = "refused a peer link from %s: %s"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RefusalLog(logging.Filter):
    """Counts refused connections by reason and logs one summary line per interval."""

    def __init__(self, interval_s: float = SUMMARY_INTERVAL_S) -> None:
        super().__init__()
        self.total = 0
        self._interval_s = interval_s
        self._counts: Counter[str] = Counter()
        self._flush: asyncio.TimerHandle | None = None

    def refused(self, reason: str) -> None:
        """Count one refusal; the summary follows within the interval."""
        self.total += 1
        self._counts[reason] += 1
        if self._flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a test calling synchronously): summarise now
                self.summarise()
                return
            self._flush = loop.call_later(self._interval_s, self.summarise)

    def summarise(self) -> None:
        """Log what was refused since the last summary (nothing when nothing was)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if not self._counts:
            return
        counts, self._counts = self._counts, Counter()
        detail = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
        log.warning("peer port refused %d connections in the last %.0f s: %s",
                    sum(counts.values()), self._interval_s, detail)

    def filter(self, record: logging.LogRecord) -> bool:
        """Swallow the engine's line per failed handshake, counting it instead."""
        if record.msg == ENGINE_REFUSAL_MESSAGE:
            self.refused("failed the handshake")
            return False
        return True


# One per process: every peer port of the process reports here (tests run several nodes).
REFUSALS = RefusalLog()


def quiet_engine_refusals() -> None:
    """Replace the engine's line per failed handshake with the summary (idempotent)."""
    engine_log = logging.getLogger(ENGINE_LOGGER)
    if REFUSALS not in engine_log.filters:
        engine_log.addFilter(REFUSALS)


class PeerPortGuard:
    """Connection caps and the upgrade deadline of one peer port."""

    def __init__(self, *, max_connections: int = MAX_CONNECTIONS,
                 max_per_address: int = MAX_PER_ADDRESS,
                 upgrade_timeout_s: float = UPGRADE_TIMEOUT_S,
                 refusals: RefusalLog = REFUSALS) -> None:
        self.refusals = refusals
        self._max_connections = max_connections
        self._max_per_address = max_per_address
        self._upgrade_timeout_s = upgrade_timeout_s
        self._open: dict[RequestHandler, str] = {}
        self._per_address: Counter[str] = Counter()
        self._deadlines: dict[RequestHandler, asyncio.TimerHandle] = {}

    @property
    def connections(self) -> int:
        """Connections open now (upgraded or not)."""
        return len(self._open)

    def opened(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        """A connection was accepted: keep it (with a deadline to upgrade) or close it."""
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if len(self._open) >= self._max_connections:
            self._refuse(transport, "over the connection limit")
            return
        if self._per_address[address] >= self._max_per_address:
            self._refuse(transport, "too many from one address")
            return
        self._open[handler] = address
        self._per_address[address] += 1
        loop = asyncio.get_running_loop()
        self._deadlines[handler] = loop.call_later(
            self._upgrade_timeout_s, self._expire, handler, transport)

    def closed(self, handler: RequestHandler) -> None:
        """A connection ended (kept or refused)."""
        self._cancel(handler)
        address = self._open.pop(handler, None)
        if address is not None:
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]

    def middleware(self) -> Any:
        """The peer app's middleware: refuse browsers; an upgrade's own timeouts take over."""

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            if "Origin" in request.headers:
                self.refusals.refused("from a web page (Origin)")
                return web.Response(status=403, text="peers only\n")
            if request.headers.get("Upgrade", "").lower() == "websocket":
                # The handshake (or pairing session) bounds it from here; anything else keeps
                # the deadline, so a keep-alive connection can't idle here.
                self._cancel(request.protocol)
            return await handler(request)

        return guard

    def _refuse(self, transport: asyncio.Transport, reason: str) -> None:
        self.refusals.refused(reason)
        transport.abort()

    def _expire(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        self._deadlines.pop(handler, None)
        if not transport.is_closing():
            self.refusals.refused("no upgrade in time")
            transport.abort()

    def _cancel(self, handler: RequestHandler) -> None:
        deadline = self._deadlines.pop(handler, None)
        if deadline is not None:
            deadline.cancel()


class _GuardedServer(web.Server):
    """aiohttp's connection manager, telling the guard of every connection."""

    def __init__(self, *args: Any, guard: PeerPortGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        """Count the connection (or close it at once)."""
        super().connection_made(handler, transport)
        self._guard.opened(handler, transport)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        """Forget the connection."""
        self._guard.closed(handler)
        super().connection_lost(handler, exc)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose connections pass through a PeerPortGuard; no access log."""

    def __init__(self, app: web.Application, guard: PeerPortGuard, *,
                 shutdown_timeout: float) -> None:
        super().__init__(app, handle_signals=False, shutdown_timeout=shutdown_timeout)
        self._guard = guard

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()  # starts and freezes the app
        return _GuardedServer(
            base.request_handler, request_factory=base.request_factory,
            loop=asyncio.get_running_loop(), guard=self._guard, access_log=None,
            keepalive_timeout=KEEPALIVE_TIMEOUT_S,
        )
