"""Read the header of an Automerge sync message: heads, needs, Bloom filters, change sizes.

The binding's `Message` is opaque, but the sync engine must know whether a peer's message
moves anything (its heads, what it asks for, whether it carries changes) to stop exchanges
that make no progress. The layout is Automerge's published sync format: a type byte (0x42 v1,
0x43 v2), then uLEB128-counted lists of 32-byte hashes (heads, need), the `have` list (each: a
hash list and a length-prefixed Bloom filter), the length-prefixed changes, and trailing fields
this reader ignores. Pure: no I/O; never imports automerge.
"""

from __future__ import annotations

from dataclasses import dataclass

from crdt_model.errors import CorruptDocument

HASH_BYTES = 32
_TYPES = (0x42, 0x43)


@dataclass(frozen=True, slots=True)
class SyncHeader:
    """What a sync message says: its sender's heads, what it needs, its filters, its changes."""

    heads: tuple[bytes, ...]
    need: tuple[bytes, ...]
    blooms: tuple[bytes, ...]
    change_sizes: tuple[int, ...]

    @property
    def moves_nothing(self) -> bool:
        """No changes and no request for any: only heads and filters."""
        return not self.change_sizes and not self.need


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def uleb(self) -> int:
        value = shift = 0
        while True:
            if self.at >= len(self.data) or shift > 63:
                raise CorruptDocument("sync message ends inside a number")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def take(self, size: int) -> bytes:
        if size > len(self.data) - self.at:
            raise CorruptDocument("sync message is shorter than it says")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def hashes(self) -> tuple[bytes, ...]:
        count = self.uleb()
        return tuple(self.take(HASH_BYTES) for _ in range(count))


def decode(message: bytes) -> SyncHeader:
    """The header of a sync message; CorruptDocument if it is not one."""
    if not message or message[0] not in _TYPES:
        raise CorruptDocument("not an Automerge sync message")
    reader = _Reader(message)
    reader.at = 1
    heads, need = reader.hashes(), reader.hashes()
    blooms = []
    for _ in range(reader.uleb()):
        reader.hashes()  # the `last_sync` heads the filter starts from
        blooms.append(reader.take(reader.uleb()))
    sizes = []
    for _ in range(reader.uleb()):
        size = reader.uleb()
        reader.take(size)
        sizes.append(size)
    return SyncHeader(heads, need, tuple(blooms), tuple(sizes))


def bloom_contains(bloom: bytes, change_hash: bytes) -> bool:
    """Whether a sync message's Bloom filter claims `change_hash` (false positives included)."""
    if not bloom:
        return False
    reader = _Reader(bloom)
    entries, _bits_per_entry, probes = reader.uleb(), reader.uleb(), reader.uleb()
    bits = bloom[reader.at:]
    if not entries or not bits:
        return False
    modulo = 8 * len(bits)
    x, y, z = (int.from_bytes(change_hash[i:i + 4], "little") % modulo for i in (0, 4, 8))
    for probe in range(probes):
        if probe:
            x, y = (x + y) % modulo, (y + z) % modulo
        if not bits[x >> 3] & (1 << (x & 7)):
            return False
    return True
