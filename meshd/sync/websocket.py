"""The real peer Transport: binary WebSocket messages over aiohttp, one link per peer pair.

It carries frames and nothing else: authentication and sealing happen above it (handshake.py).
Oversized messages are refused by aiohttp (`max_msg_size`) and a dead peer is noticed by
WebSocket heartbeats. The API server is separate and stays on 127.0.0.1; this listens on the
peer port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from crdt_model.errors import SyncError
from meshd.sync.ports import LinkClosed, LinkHandler
from meshd.wire import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

PEER_PATH = "/mesh/v1"
DEFAULT_PEER_PORT = 7701
HEARTBEAT_S = 15.0
CONNECT_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0
_FRAME_OVERHEAD_BYTES = 64


class WebSocketLink:
    """A Link over one aiohttp WebSocket (either end)."""

    def __init__(self, ws: Any, remote: str, forget: Callable[[WebSocketLink], None]) -> None:
        self._ws = ws
        self._remote = remote
        self._forget = forget

    @property
    def remote(self) -> str:
        """HOST:PORT of the other end."""
        return self._remote

    async def send(self, frame: bytes) -> None:
        """Send one binary message; LinkClosed if the socket is gone."""
        if self._ws.closed:
            raise LinkClosed("link closed")
        try:
            await self._ws.send_bytes(frame)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise LinkClosed(f"send failed: {exc}") from exc

    async def receive(self) -> bytes:
        """The next binary message; LinkClosed on close, SyncError for any other kind."""
        message = await self._ws.receive()
        if message.type == aiohttp.WSMsgType.BINARY:
            data: bytes = message.data
            return data
        if message.type in (aiohttp.WSMsgType.TEXT,):
            raise SyncError("peer sent a text frame")
        raise LinkClosed(f"link closed ({message.type.name})")

    async def close(self) -> None:
        """Close the WebSocket; safe twice."""
        self._forget(self)
        with contextlib.suppress(Exception):
            await self._ws.close()


class WebSocketTransport:
    """Listens for peers on HOST:PORT and dials them, over WebSockets."""

    def __init__(self, host: str = "0.0.0.0", port: int = DEFAULT_PEER_PORT, *,
                 heartbeat_s: float = HEARTBEAT_S,
                 extra_routes: Sequence[Callable[[web.Application], None]] = ()) -> None:
        self._extra_routes = extra_routes
        self._host = host
        self._port = port
        self._heartbeat_s = heartbeat_s
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._on_link: LinkHandler | None = None
        self._links: set[WebSocketLink] = set()
        self._stopped = False

    @property
    def address(self) -> str:
        """HOST:PORT this transport listens on (the real port once started)."""
        return f"{self._host}:{self._port}"

    async def start(self, on_link: LinkHandler) -> None:
        """Listen for peer links."""
        self._on_link = on_link
        app = web.Application(client_max_size=1024)
        app.router.add_get(PEER_PATH, self._serve)
        for add_routes in self._extra_routes:  # e.g. pairing, which shares the peer port
            add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=CLOSE_TIMEOUT_S)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._port = int(self._runner.addresses[0][1])
        self._client = aiohttp.ClientSession()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=MAX_FRAME_BYTES + _FRAME_OVERHEAD_BYTES, heartbeat=self._heartbeat_s,
        )
        try:
            await ws.prepare(request)
        except (ConnectionError, OSError) as exc:  # the peer gave up during the upgrade
            log.info("a peer closed its link during the upgrade: %s", exc)
            return web.Response(status=400)  # nobody is left to read it
        peer = request.transport.get_extra_info("peername") if request.transport else None
        link = WebSocketLink(ws, f"{peer[0]}:{peer[1]}" if peer else "?", self._links.discard)
        self._links.add(link)
        try:
            if self._on_link is not None and not self._stopped:
                await self._on_link(link)
        finally:
            self._links.discard(link)
            await link.close()
        return ws

    async def connect(self, address: str) -> WebSocketLink:
        """Open a WebSocket link to a peer at HOST:PORT (or a URL); LinkClosed if unreachable."""
        if self._client is None or self._stopped:
            raise LinkClosed("transport is not running")
        # HOST:PORT on the LAN; a full ws:// or wss:// URL (a relay, over TLS) is used as given.
        url = address if "://" in address else f"http://{address}{PEER_PATH}"
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                ws = await self._client.ws_connect(
                    url, heartbeat=self._heartbeat_s,
                    max_msg_size=MAX_FRAME_BYTES + _FRAME_OVERHEAD_BYTES, autoping=True,
                )
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise LinkClosed(f"cannot reach {address}: {exc}") from exc
        link = WebSocketLink(ws, address, self._links.discard)
        self._links.add(link)
        return link

    async def stop(self) -> None:
        """Close every link, stop listening; safe twice."""
        if self._stopped:
            return
        self._stopped = True
        for link in list(self._links):
            await link.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()
