"""Flow control of a sync link: a window of bytes the peer's session has not taken yet.

Heartbeats share the socket with bulk data, and aiohttp answers a ping only when the link is
read. A link that stops reading while its session stores a batch (a busy node, a starved CPU)
leaves the peer's ping unanswered behind the data, and the peer cuts the link (that happened
on 10,000-chart initial syncs). So each link reads all the time, in a task of its own
(meshd.sync.websocket), and it is the sender that keeps the amount bounded: it sends at most
WINDOW_BYTES (and a piece) that the receiver has not given credit for, and the receiver gives
credit for bytes as they leave its hands: pieces of a frame still being joined at once, whole
frames once the session takes them (like HTTP/2's WINDOW_UPDATE). A slow session then holds
back its peer, not its own socket: pings and pongs are read at once, whatever the session is
doing. A ping or a fresh edit waits behind at most a window and a piece on the sender: ~4 s on
a 128 kbit/s line, milliseconds on a LAN. What can be in flight when a link is cut (sent, not
yet stored by the peer, so sent again on the next link) is at most `in_flight_bytes`.
"""

from __future__ import annotations

import asyncio

from crdt_model.errors import SyncError

WINDOW_BYTES = 48 * 1024
SEND_PIECE_BYTES = 16 * 1024
MAX_PIECE_BYTES = 64 * 1024  # what aiohttp lets a piece be (meshd.sync.websocket.PIECE_BYTES)
CREDIT_STEP_BYTES = 12 * 1024  # credit goes back in steps: one small message per few pieces
STALLED_S = 120.0  # a peer that takes nothing for this long is gone


class SendWindow:
    """What this side sent and the peer has not yet given credit for."""

    def __init__(self) -> None:
        self._sent = 0
        self._credited = 0
        self._open = asyncio.Event()
        self._open.set()
        self._closed = False

    def outstanding(self) -> int:
        """Bytes sent without credit yet."""
        return self._sent - self._credited

    def sent(self, size: int) -> None:
        """`size` bytes of a piece went out."""
        self._sent += size
        if self.outstanding() > WINDOW_BYTES:
            self._open.clear()

    def credit(self, size: int) -> None:
        """The peer took `size` more bytes; SyncError if it credits what was never sent."""
        if size <= 0 or self._credited + size > self._sent:
            raise SyncError("peer gave credit for bytes it never received")
        self._credited += size
        if self.outstanding() <= WINDOW_BYTES:
            self._open.set()

    def close(self) -> None:
        """The link is gone: nobody waits for room any more."""
        self._closed = True
        self._open.set()

    async def wait_open(self) -> bool:
        """Wait until the window has room; False if the link closed or the peer took nothing
        for STALLED_S."""
        if self._open.is_set():
            return not self._closed
        try:
            async with asyncio.timeout(STALLED_S):
                await self._open.wait()
        except TimeoutError:
            return False
        return not self._closed


class ReceiveCredit:
    """What this side owes the peer: bytes read and out of its hands, not yet credited."""

    def __init__(self) -> None:
        self._read = 0
        self._credited = 0
        self._held = 0  # bytes of whole frames waiting for the session

    def arrived(self, size: int) -> None:
        """A piece of `size` bytes was read; SyncError if the peer sent past its window."""
        self._read += size
        if self._read - self._credited > WINDOW_BYTES + MAX_PIECE_BYTES:
            raise SyncError("peer sent past its flow-control window")

    def hold(self, size: int) -> None:
        """A whole frame of `size` bytes waits for the session."""
        self._held += size

    def release(self, size: int) -> None:
        """The session took a frame of `size` bytes."""
        self._held -= size

    def due(self) -> int:
        """Credit to give now (marked as given), or 0 while less than a step is owed."""
        owed = self._read - self._credited - self._held
        if owed < CREDIT_STEP_BYTES:
            return 0
        self._credited += owed
        return owed


def in_flight_bytes(frame_bytes: int) -> int:
    """The most a link can lose at a cut: this side's window and a piece (frames the peer
    read and its session had not taken), the frame its session was storing, and one it was
    joining."""
    return WINDOW_BYTES + SEND_PIECE_BYTES + 2 * frame_bytes
