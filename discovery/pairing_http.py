"""Pairing over HTTP: an aiohttp WebSocket route for the inviter and the joiner's client.

The daemon mounts `pairing_handler(...)` at `PAIRING_PATH` on its peer port; the new device calls
`pair_over_http(host, port, code, identity)`. One WebSocket binary message = one pairing message.
The transport is plain: SPAKE2 and the sealed payloads protect what matters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
from aiohttp import web

from discovery.errors import PairingClosed, PairingError, WrongCode
from discovery.pairing import PairingWindow
from discovery.pairing_channel import (
    PAIRING_SESSION_TIMEOUT_S,
    ChannelClosed,
    run_inviter,
    run_joiner,
)
from discovery.pairing_wire import (
    MAX_JOINER_MESSAGE_BYTES,
    MAX_PAIRING_MESSAGE_BYTES,
    encode_failure,
)

PAIRING_PATH = "/pair/v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebSocketChannel:
    """A PairingChannel over one aiohttp WebSocket (server or client side)."""

    def __init__(self, ws: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    async def send(self, message: bytes) -> None:
        """Send one binary frame."""
        if self._ws.closed:
            raise ChannelClosed("the pairing connection is closed")
        try:
            await self._ws.send_bytes(message)
        except (ConnectionError, aiohttp.ClientError) as error:
            raise ChannelClosed(f"the pairing connection broke ({error})") from None

    async def receive(self) -> bytes:
        """The next binary frame; ChannelClosed on close, error or a text frame."""
        msg = await self._ws.receive()
        if msg.type is aiohttp.WSMsgType.BINARY:
            data: bytes = msg.data
            return data
        raise ChannelClosed("the other device closed the pairing connection")


def pairing_handler(
    current_window: Callable[[], PairingWindow | None],
    *,
    on_joined: Callable[[bytes], Awaitable[None]] | None = None,
    timeout_s: float = PAIRING_SESSION_TIMEOUT_S,
) -> Handler:
    """An aiohttp handler serving pairing attempts against the window open at the time.

    `current_window` returns the open PairingWindow or None; `on_joined(identity)` receives the
    new device's sealed-then-opened identity bytes before it is told it is paired.
    """

    async def handle_pairing(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_JOINER_MESSAGE_BYTES, heartbeat=None)
        await ws.prepare(request)
        channel = WebSocketChannel(ws)
        try:
            window = current_window()
            if window is None:
                idle = PairingClosed("this device is not inviting anyone: open an invitation first")
                await channel.send(encode_failure(idle))
                return ws
            await run_inviter(window, channel, on_joined=on_joined, timeout_s=timeout_s)
        except WrongCode as error:  # at most three per window: worth a line each
            request.app.logger.info("pairing attempt failed: %s", error.message)
        except PairingError as error:
            # Idle, vanished or garbled connections: anyone can make these, so no line each.
            request.app.logger.debug("pairing connection ended: %s", error.message)
        finally:
            await ws.close()
        return ws

    return handle_pairing


def add_pairing_route(app: web.Application, handler: Handler) -> None:
    """Mount the pairing handler at PAIRING_PATH."""
    app.router.add_get(PAIRING_PATH, handler)


def pairing_url(host: str, port: int) -> str:
    """The WebSocket URL of a device's pairing endpoint (IPv6 literals get brackets)."""
    try:
        if ipaddress.ip_address(host.split("%", 1)[0]).version == 6:
            host = f"[{host}]"  # aiohttp dials the raw host: no %25 escape
    except ValueError:
        pass  # a hostname
    return f"http://{host}:{port}{PAIRING_PATH}"


async def pair_over_http(
    host: str,
    port: int,
    code: str,
    identity: bytes,
    *,
    session: aiohttp.ClientSession | None = None,
    timeout_s: float = PAIRING_SESSION_TIMEOUT_S,
) -> bytes:
    """Join the mesh of the device at host:port with `code`; returns the mesh secret.

    Raises WrongCode, PairingClosed, PairingProtocolError, or ChannelClosed when the device
    can't be reached.
    """
    own_session = session is None
    client = session or aiohttp.ClientSession()
    try:
        try:
            ws = await client.ws_connect(
                pairing_url(host, port),
                max_msg_size=MAX_PAIRING_MESSAGE_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_close=timeout_s),
                autoping=True,
            )
        except (aiohttp.ClientError, OSError) as error:
            raise ChannelClosed(
                f"can't reach the inviting device at {host}:{port} ({error})"
            ) from None
        async with ws:
            return await run_joiner(code, identity, WebSocketChannel(ws), timeout_s=timeout_s)
    finally:
        if own_session:
            await client.close()


async def pair_with_any_address(
    addresses: Sequence[str],
    port: int,
    code: str,
    identity: bytes,
    *,
    timeout_s: float = PAIRING_SESSION_TIMEOUT_S,
) -> tuple[str, bytes]:
    """Pair through the first of `addresses` that answers (e.g. a PeerHint's); returns the
    address used and the mesh secret.

    Only an unreachable address moves on to the next one: a wrong code or a closed window is
    raised at once, since trying again elsewhere would spend another attempt.
    """
    if not addresses:
        raise ChannelClosed("the inviting device advertised no address")
    last: ChannelClosed | None = None
    async with aiohttp.ClientSession() as session:
        for address in addresses:
            try:
                secret = await pair_over_http(
                    address, port, code, identity, session=session, timeout_s=timeout_s
                )
            except ChannelClosed as error:
                last = error
                continue
            return address, secret
    assert last is not None
    raise last
