"""The real peer Transport: binary WebSocket messages over aiohttp, one link per peer pair.

It carries frames and nothing else: authentication and sealing happen above it (handshake.py).
A frame travels as one or more WebSocket messages ("pieces") of at most PIECE_BYTES, each
starting with a byte that says whether more pieces follow (or that it is credit, below).
aiohttp refuses any larger message before buffering it, so a stranger can make this node hold
at most one piece per connection: until the handshake calls `authenticated()`, a frame must
fit in one piece and frames are read one at a time, as asked for. Once authenticated, a task
of the link reads all the time (aiohttp answers pings only while someone reads, and a peer
whose ping goes unanswered cuts the link) and queues frames for the session; the sender never
has more than a window of bytes the receiver has not credited back (meshd.sync.flow), so that
queue stays small and heartbeats or fresh edits never wait behind megabytes. This side sends
pieces of SEND_PIECE_BYTES. A dead peer is noticed by WebSocket heartbeats. Connections, their
upgrade deadline and browser origins are policed by meshd.sync.port_guard. The API server is
separate and stays on 127.0.0.1; this listens on the peer port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from crdt_model.errors import ClinicMeshError, SyncError
from meshd.sync.flow import SEND_PIECE_BYTES, ReceiveCredit, SendWindow
from meshd.sync.port_guard import UPGRADE_TIMEOUT_S, GuardedAppRunner, PeerPortGuard
from meshd.sync.ports import LinkClosed, LinkHandler
from meshd.wire import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

PEER_PATH = "/mesh/v1"
DEFAULT_PEER_PORT = 7701
HEARTBEAT_S = 15.0
CONNECT_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0
_FRAME_OVERHEAD_BYTES = 64
# Handshake frames are a few hundred bytes; sealed frames after it are split into pieces.
PIECE_BYTES = 64 * 1024
_LAST_PIECE = 0
# aiohttp refuses a message of exactly `max_msg_size` bytes: the limit is one above a piece.
_MAX_MSG_SIZE = PIECE_BYTES + 1
_MORE_PIECES = 1
_CREDIT = 2  # not a piece: credit for bytes taken (meshd.sync.flow), a 4-byte count
_CREDIT_BYTES = 4


class WebSocketLink:
    """A Link over one aiohttp WebSocket (either end)."""

    def __init__(self, ws: Any, remote: str, forget: Callable[[WebSocketLink], None]) -> None:
        self._ws = ws
        self._remote = remote
        self._forget = forget
        self._authenticated = False
        self._sending = asyncio.Lock()  # the pieces of two frames must not interleave
        self._window = SendWindow()
        self._credit = ReceiveCredit()
        self._frames: deque[tuple[bytes, int]] = deque()  # read, for the session to take
        self._arrived = asyncio.Event()
        self._ended: ClinicMeshError | None = None  # why the reader stopped
        self._reader: asyncio.Task[None] | None = None

    @property
    def remote(self) -> str:
        """HOST:PORT of the other end."""
        return self._remote

    def authenticated(self) -> None:
        """The handshake succeeded: frames of any wire size may now arrive in pieces, and a
        task of this link reads them ahead of the session (meshd.sync.flow)."""
        self._authenticated = True
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_ahead())

    async def send(self, frame: bytes) -> None:
        """Send one frame (in pieces when large); LinkClosed if the socket is gone."""
        if self._ws.closed:
            raise LinkClosed("link closed")
        view = memoryview(frame)
        step = SEND_PIECE_BYTES - 1
        try:
            async with self._sending:
                for start in range(0, max(len(view), 1), step):
                    # Before the handshake, frames are few and small: credit starts after it.
                    if self._authenticated and not await self._window.wait_open():
                        raise LinkClosed("the peer stopped reading")
                    more = _MORE_PIECES if start + step < len(view) else _LAST_PIECE
                    piece = bytes((more,)) + view[start:start + step]
                    self._window.sent(len(piece))
                    await self._ws.send_bytes(piece)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise LinkClosed(f"send failed: {exc}") from exc

    async def receive(self) -> bytes:
        """The next frame; LinkClosed on close, SyncError for a malformed or oversized one."""
        if self._reader is None:  # the handshake: one frame at a time, nothing read ahead
            frame, _ = await self._read_frame()
            return frame
        while not self._frames:
            if self._ended is not None:
                raise self._ended
            self._arrived.clear()
            await self._arrived.wait()
        frame, size = self._frames.popleft()
        self._credit.release(size)
        await self._give_credit()
        return frame

    async def _read_ahead(self) -> None:
        """Read frames as they come (so pings are answered at once), for `receive`."""
        try:
            while True:
                frame, size = await self._read_frame()
                self._credit.hold(size)
                self._frames.append((frame, size))
                self._arrived.set()
        except ClinicMeshError as exc:  # SyncError or LinkClosed, for the session to see
            self._ended = exc
        except Exception as exc:  # aiohttp's own, on a socket torn down under it
            self._ended = LinkClosed(f"link failed: {exc!r}")
        self._window.close()
        self._arrived.set()

    async def _read_frame(self) -> tuple[bytes, int]:
        """The next frame and its size on the wire; credit from the peer is taken on the way."""
        pieces: list[bytes] = []
        size = wire_size = 0
        while True:
            piece = await self._piece()
            more, body = piece[0], piece[1:]
            if more == _CREDIT:
                self._window.credit(_credit_of(body))
                continue
            if more not in (_LAST_PIECE, _MORE_PIECES):
                raise SyncError("peer sent a malformed piece")
            if more == _MORE_PIECES and not self._authenticated:
                raise SyncError("peer sent a large frame before the handshake")
            self._credit.arrived(len(piece))
            size += len(body)
            wire_size += len(piece)
            if size > MAX_FRAME_BYTES + _FRAME_OVERHEAD_BYTES:
                raise SyncError("peer sent a frame over the size limit")
            pieces.append(body)
            if more == _LAST_PIECE:
                return (pieces[0] if len(pieces) == 1 else b"".join(pieces)), wire_size
            await self._give_credit()  # a frame being joined is credited as it comes

    async def _give_credit(self) -> None:
        if not self._authenticated or not (due := self._credit.due()):
            return
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self._ws.send_bytes(bytes((_CREDIT,)) + due.to_bytes(_CREDIT_BYTES, "big"))

    async def _piece(self) -> bytes:
        message = await self._ws.receive()
        if message.type == aiohttp.WSMsgType.BINARY:
            data: bytes = message.data
            if not data:
                raise SyncError("peer sent an empty message")
            return data
        if message.type in (aiohttp.WSMsgType.TEXT,):
            raise SyncError("peer sent a text frame")
        raise LinkClosed(f"link closed ({message.type.name})")

    async def close(self) -> None:
        """Close the WebSocket and stop reading; safe twice."""
        self._forget(self)
        self._window.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ended is None:  # whoever waits for a frame learns the link is gone
            self._ended = LinkClosed("link closed")
        self._arrived.set()
        with contextlib.suppress(Exception):
            await self._ws.close()


def _credit_of(body: bytes) -> int:
    if len(body) != _CREDIT_BYTES:
        raise SyncError("peer sent a malformed credit")
    return int.from_bytes(body, "big")


class WebSocketTransport:
    """Listens for peers on HOST:PORT and dials them, over WebSockets."""

    def __init__(self, host: str = "0.0.0.0", port: int = DEFAULT_PEER_PORT, *,
                 heartbeat_s: float = HEARTBEAT_S,
                 extra_routes: Sequence[Callable[[web.Application], None]] = (),
                 guard: PeerPortGuard | None = None) -> None:
        self._extra_routes = extra_routes
        self.guard = guard or PeerPortGuard()
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
        app = web.Application(client_max_size=1024, middlewares=[self.guard.middleware()])
        app.router.add_get(PEER_PATH, self._serve)
        for add_routes in self._extra_routes:  # e.g. pairing, which shares the peer port
            add_routes(app)
        self._runner = GuardedAppRunner(app, self.guard, shutdown_timeout=CLOSE_TIMEOUT_S)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._port = int(self._runner.addresses[0][1])
        self._client = aiohttp.ClientSession()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=_MAX_MSG_SIZE, heartbeat=self._heartbeat_s)
        try:
            async with asyncio.timeout(UPGRADE_TIMEOUT_S):
                await ws.prepare(request)
        except (ConnectionError, OSError, TimeoutError) as exc:  # the peer gave up or stalled
            log.debug("a peer closed its link during the upgrade: %r", exc)
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
                    max_msg_size=_MAX_MSG_SIZE, autoping=True,
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
