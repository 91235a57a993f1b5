"""Compressed messages (`wire.Packed`): one zstd stream per session direction.

Bulk messages (snapshots, sync-message batches, lists of heads, signatures, wants) go through
the session's one compressor: each is flushed to a block boundary, so it decodes on arrival,
and later messages refer back to earlier ones (charts are alike: 3,000 sample charts in 64 KiB
batches took 0.29 MB as one stream, 1.62 MB with each batch compressed alone). The
receiver keeps the matching decompressor. So Packed messages must be unpacked in the order
they were packed, every one of them: `Packer` and `Unpacker` belong to one session each way.

zstd's streaming decoder trusts what a frame claims, so the Unpacker bounds it: the window is
at most MAX_WINDOW_BYTES, and a message is never inflated past the size it claims (itself at
most PACK_MAX_BYTES). Anything wrong with the stream raises BrokenStream: the session can't
go on (its decompressor's state is lost), so it must end. Pure: no I/O.
"""

from __future__ import annotations

from typing import IO, cast

import zstandard

from crdt_model.errors import SyncError
from meshd import wire

PACK_MIN_BYTES = 1024  # smaller messages are sent as they are: zstd would gain little
PACK_LEVEL = 3  # higher levels gain 3-4 % more on charts, at 3-4 times the time
WINDOW_LOG = 21  # the sender's window, 2 MiB: 8 MiB gained nothing on 3,000 charts
MAX_WINDOW_BYTES = 8 * 1024 * 1024  # the most a receiver accepts (memory per session)
# Bulk messages are far smaller (meshd.sync.outbox); a bigger one goes plain. It bounds what a
# hostile stream can make the receiver inflate before it is refused (twice this, briefly).
PACK_MAX_BYTES = 4 * 1024 * 1024
# Pushed changes stay plain (small, and every millisecond of theirs counts); digests and
# attachment chunks do not compress (and chunks would push the charts out of the window).
PACKED_KINDS = (wire.Snapshots, wire.SyncMessages, wire.BucketHeads, wire.Attestations,
                wire.Want, wire.IHave)


class BrokenStream(SyncError):
    """A packed message that does not continue the session's stream: the session must end."""


class Packer:
    """The sending half of a session's stream (its zstd context is made on first use)."""

    def __init__(self) -> None:
        self._zstd: zstandard.ZstdCompressionObj | None = None

    def pack(self, message: wire.Message) -> wire.Message:
        """`message` as Packed when it is a bulk kind of PACK_MIN_BYTES to PACK_MAX_BYTES, else
        itself. Every Packed message returned must be sent, in order."""
        if not isinstance(message, PACKED_KINDS):
            return message
        raw = wire.encode(message)
        if not PACK_MIN_BYTES <= len(raw) <= PACK_MAX_BYTES:
            return message
        if self._zstd is None:
            params = zstandard.ZstdCompressionParameters.from_level(
                PACK_LEVEL, window_log=WINDOW_LOG)
            self._zstd = zstandard.ZstdCompressor(compression_params=params).compressobj()
        data = self._zstd.compress(raw) + self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return wire.Packed(len(raw), data)


class _Sink:
    """Where the decompressor writes: refuses anything past the size the message claims."""

    def __init__(self) -> None:
        self.room = 0
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise BrokenStream("packed message is larger than it claims")
        self.room -= len(data)
        self.chunks.append(bytes(data))
        return len(data)


class Unpacker:
    """The receiving half of a session's stream."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zstd: zstandard.ZstdDecompressionWriter | None = None
        self._broken = False

    def unpacked(self, message: wire.Message) -> wire.Message:
        """The message inside a Packed one (others as they are). BrokenStream if the stream
        does not decompress, or not to the size claimed (nothing more can be read from it);
        SyncError if what it held is not a message, or is Packed again."""
        if not isinstance(message, wire.Packed):
            return message
        if self._broken:
            raise BrokenStream("the packed stream broke earlier")
        if message.size > PACK_MAX_BYTES:
            self._broken = True
            raise BrokenStream("packed message is larger than any this side accepts")
        try:
            raw = self._inflate(message)
        except (zstandard.ZstdError, BrokenStream) as exc:
            self._broken = True
            raise BrokenStream(f"packed message does not decompress: {exc}") from exc
        inner = wire.decode(raw)
        if isinstance(inner, wire.Packed):
            raise SyncError("a packed message inside a packed message")
        return inner

    def _inflate(self, packed: wire.Packed) -> bytes:
        if self._zstd is None:
            # The output buffer holds a whole message, so the decoder never keeps part of one
            # back for the next write (it stops early only when its output is full).
            decompressor = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW_BYTES)
            self._zstd = decompressor.stream_writer(
                cast(IO[bytes], self._sink), write_size=PACK_MAX_BYTES + 1)
        sink = self._sink
        sink.room, sink.chunks = packed.size, []
        self._zstd.write(packed.data)
        if sink.room:
            raise BrokenStream("packed message is smaller than it claims")
        raw = b"".join(sink.chunks)
        sink.chunks = []
        return raw
