"""Running a pairing session over a transport: the two-method channel and the async drivers.

The daemon carries the messages over a WebSocket on its peer port (`discovery.pairing_http`);
tests use `memory_channel_pair`. A channel raises `ChannelClosed` when the other end is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from discovery.errors import PairingError
from discovery.pairing import JoinerSession, PairingWindow
from discovery.pairing_wire import encode_failure

PAIRING_SESSION_TIMEOUT_S = 30.0  # a whole exchange takes milliseconds; a stalled peer is gone


class ChannelClosed(PairingError):
    """The transport under a pairing session closed before it completed."""

    code = "pairing_disconnected"


class PairingChannel(Protocol):
    """An ordered, reliable exchange of whole messages with one other device."""

    async def send(self, message: bytes) -> None:
        """Deliver one message to the other end."""
        ...

    async def receive(self) -> bytes:
        """The next message from the other end; ChannelClosed when it has gone."""
        ...


class MemoryChannel:
    """One end of an in-process channel pair (for tests and simulations)."""

    def __init__(self, inbox: asyncio.Queue[bytes | None], outbox: asyncio.Queue[bytes | None]):
        self._inbox = inbox
        self._outbox = outbox
        self.sent: list[bytes] = []  # every message this end sent, for replay tests

    async def send(self, message: bytes) -> None:
        """Queue one message for the other end."""
        self.sent.append(message)
        await self._outbox.put(message)

    async def receive(self) -> bytes:
        """The next message from the other end."""
        message = await self._inbox.get()
        if message is None:
            raise ChannelClosed("the other device closed the pairing connection")
        return message

    def close(self) -> None:
        """Tell the other end that this one is gone."""
        self._outbox.put_nowait(None)


def memory_channel_pair() -> tuple[MemoryChannel, MemoryChannel]:
    """Two connected channel ends."""
    a_to_b: asyncio.Queue[bytes | None] = asyncio.Queue()
    b_to_a: asyncio.Queue[bytes | None] = asyncio.Queue()
    return MemoryChannel(b_to_a, a_to_b), MemoryChannel(a_to_b, b_to_a)


async def run_inviter(
    window: PairingWindow,
    channel: PairingChannel,
    *,
    on_joined: Callable[[bytes], Awaitable[None]] | None = None,
    timeout_s: float = PAIRING_SESSION_TIMEOUT_S,
) -> bytes:
    """Serve one joiner's attempt; returns the joiner's identity bytes once it is paired.

    `on_joined` runs before the joiner is told it is done (the daemon adds it to the roster
    there). Raises WrongCode, PairingClosed, PairingProtocolError or ChannelClosed; only a
    WrongCode counts against the window.
    """
    try:
        session = window.open_session()
    except PairingError as error:
        await _tell_failure(channel, error)
        raise
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message = await channel.receive()
                try:
                    reply = session.handle(message)
                except PairingError as error:
                    await _tell_failure(channel, error)
                    raise
                if session.ended:
                    identity = window.joiner_identity
                    assert identity is not None
                    if on_joined is not None:
                        await on_joined(identity)
                    await channel.send(reply)
                    return identity
                await channel.send(reply)
    except TimeoutError:
        raise ChannelClosed("the joining device stopped answering") from None
    finally:
        session.abandon()


async def run_joiner(
    code: str,
    identity: bytes,
    channel: PairingChannel,
    *,
    timeout_s: float = PAIRING_SESSION_TIMEOUT_S,
) -> bytes:
    """Pair with the inviting device using `code`; returns the mesh secret it handed over.

    `identity` (this device's public key and name, opaque here) is sent sealed. Raises
    WrongCode, PairingClosed, PairingProtocolError or ChannelClosed.
    """
    session = JoinerSession(code, identity)
    try:
        async with asyncio.timeout(timeout_s):
            await channel.send(session.first_message())
            while True:
                reply = session.handle(await channel.receive())
                if reply is None:
                    secret = session.mesh_secret
                    assert secret is not None
                    return secret
                await channel.send(reply)
    except TimeoutError:
        raise ChannelClosed("the inviting device stopped answering") from None


async def _tell_failure(channel: PairingChannel, error: PairingError) -> None:
    # Best effort: the other end may already be gone, and the error is raised here anyway.
    with contextlib.suppress(PairingError, OSError, asyncio.TimeoutError):
        async with asyncio.timeout(2.0):
            await channel.send(encode_failure(error))
