"""Compressed messages (`wire.Packed`): bulk snapshots, batches of sync messages and lists of
heads go as one zstd frame each, and come back through a bounded stream.

zstd's one-shot decompress trusts the size a frame claims (a hostile peer could make it
allocate gigabytes), so a Packed message is read through a stream, never past the size it
claims, itself at most MAX_FRAME_BYTES, and with the zstd window capped the same way. Pure.
"""

from __future__ import annotations

import zstandard

from crdt_model.errors import SyncError
from meshd import wire
from meshd.wire_fields import MAX_FRAME_BYTES

PACK_MIN_BYTES = 1024  # smaller messages are sent as they are: zstd would gain little
PACK_LEVEL = 3  # higher levels gain 3-4 % more on charts, at 3-4 times the time


def pack(message: wire.Message) -> wire.Message:
    """`message` as Packed when compressing makes it smaller, else `message` itself."""
    raw = wire.encode(message)
    if len(raw) < PACK_MIN_BYTES or len(raw) > MAX_FRAME_BYTES:
        return message
    data = zstandard.ZstdCompressor(level=PACK_LEVEL).compress(raw)
    return wire.Packed(len(raw), data) if len(data) < len(raw) else message


def unpacked(message: wire.Message) -> wire.Message:
    """The message inside a Packed one (others as they are); SyncError if it is malformed,
    not the size it claims, or Packed again."""
    if not isinstance(message, wire.Packed):
        return message
    inner = wire.decode(_inflate(message))
    if isinstance(inner, wire.Packed):
        raise SyncError("a packed message inside a packed message")
    return inner


def _inflate(packed: wire.Packed) -> bytes:
    try:
        reader = zstandard.ZstdDecompressor(max_window_size=MAX_FRAME_BYTES).stream_reader(
            packed.data)
        chunks, total = [], 0
        while total <= packed.size and (chunk := reader.read(packed.size + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
    except zstandard.ZstdError as exc:
        raise SyncError(f"packed message does not decompress: {exc}") from exc
    if total != packed.size:
        raise SyncError("packed message is not the size it claims")
    return b"".join(chunks)
