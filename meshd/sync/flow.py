"""Flow control of a sync link: a bounded window of unacknowledged bytes.

Heartbeats share the socket with bulk data: aiohttp writes a ping into the same transport, and
the peer answers it only once it has read everything sent before it. With unbounded buffers a
10,000-chart initial sync on loopback queued 10–15 MB ahead of the ping (the sender's socket
buffer, the receiver's, both grown by the kernel's autotuning while the receiver was busy
storing charts), and the ping's 7.5 s wait for its pong ran out: the link was cut.

So a link keeps at most WINDOW_BYTES unacknowledged: before each piece it waits until the bytes
still in the transport's buffer plus those the kernel holds unacknowledged by the peer
(SIOCOUTQ) are under the window, and its receive buffer is fixed at RECEIVE_BUFFER_BYTES (no
autotuning), so what the peer's kernel acknowledged but its process has not read stays bounded
too. Pieces are small (SEND_PIECE_BYTES), so a ping or a fresh edit waits behind at most about
a window and a piece: ~4 s on a 128 kbit/s line, milliseconds on a LAN. The window is
TCP's acknowledgement, so no wire message changes. What can be in flight when a link is cut
(sent, not yet stored by the peer, so sent again on the next link) is at most `in_flight_bytes`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import socket
import struct
import termios
import time
from typing import Any

log = logging.getLogger(__name__)

WINDOW_BYTES = 48 * 1024
SEND_PIECE_BYTES = 16 * 1024
RECEIVE_BUFFER_BYTES = 64 * 1024  # the kernel doubles it for its own bookkeeping
READ_QUEUE_BYTES = 64 * 1024  # what aiohttp reads ahead of the session (its flow control)
POLL_S = 0.005
STALLED_S = 120.0  # a peer that reads nothing for this long is gone


class Window:
    """The send window of one link's transport (nothing to do if it has none)."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._fd: int | None = None
        raw = transport.get_extra_info("socket") if transport is not None else None
        if raw is not None and raw.family in (socket.AF_INET, socket.AF_INET6):
            self._fd = raw.fileno()
            try:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            except OSError as exc:  # the window still bounds what this side sends
                log.debug("could not fix the receive buffer: %s", exc)

    def queued(self) -> int:
        """Bytes written and not yet acknowledged by the peer's kernel."""
        if self._transport is None or self._transport.is_closing():
            return 0
        queued = int(self._transport.get_write_buffer_size())
        if self._fd is not None:
            try:
                raw = fcntl.ioctl(self._fd, termios.TIOCOUTQ, b"\0\0\0\0")
                queued += struct.unpack("i", raw)[0]
            except OSError:
                self._fd = None
        return queued

    async def wait_open(self) -> bool:
        """Wait until the window has room; False if the peer read nothing for STALLED_S."""
        if self.queued() <= WINDOW_BYTES:
            return True
        deadline = time.monotonic() + STALLED_S
        while self.queued() > WINDOW_BYTES:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(POLL_S)
        return True


def in_flight_bytes(frame_bytes: int) -> int:
    """The most a link can lose at a cut: this side's window, the peer's receive buffer (as
    the kernel counts it), what aiohttp read ahead there, and the frame being stored."""
    return WINDOW_BYTES + 2 * RECEIVE_BUFFER_BYTES + READ_QUEUE_BYTES + frame_bytes


def window_of(ws: Any) -> Window:
    """The Window of an aiohttp WebSocket (client or server side)."""
    writer = getattr(ws, "_writer", None)  # aiohttp keeps its transport there
    return Window(getattr(writer, "transport", None))
