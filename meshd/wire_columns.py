"""Saved Automerge documents with their columns inflated for the wire, and compacted again.

Automerge deflates each column of a saved document on its own (columns of 256 bytes or more),
which leaves a stream compressor nothing to find across the charts of a bulk snapshot: zstd
got a batch to 0.69 of its size. The same documents with those columns inflated (still valid
Automerge, byte for byte the same content) compress to about a quarter. So `expanded` inflates
the columns of a stored document's chunks before a Snapshots batch is packed, and `compacted`
deflates them again on arrival, so the store keeps compact documents. Both keep every chunk
valid Automerge (the checksum is recomputed) and hand back bytes they can't read unchanged:
Automerge itself then judges them. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

MAGIC = b"\x85\x6f\x4a\x83"
DOCUMENT_CHUNK = 0
CHANGE_CHUNK = 1
COMPRESSED_CHANGE_CHUNK = 2
DEFLATE_BIT = 0x08  # of a column's spec
DEFLATE_MIN_BYTES = 256  # Automerge's own threshold for deflating a column
MAX_GROWTH = 4  # a document is sent expanded only while at most this many times its size


ColumnOf = Callable[[int, bytes, int], tuple[int, bytes]]  # (spec, bytes, room) → new


class _Unreadable(Exception):
    """Bytes this module does not understand (left for Automerge to judge)."""


def expanded(data: bytes) -> bytes:
    """`data` (chunks of a saved document) with the columns of its document chunks inflated;
    `data` itself when nothing is deflated or it would grow more than MAX_GROWTH times."""
    try:
        out = _rewrite(data, _inflate, len(data) * MAX_GROWTH)
    except _Unreadable:
        return data
    return data if out is None or len(out) > len(data) * MAX_GROWTH else out


def compacted(data: bytes) -> bytes:
    """`data` with the large columns of its document chunks deflated, as Automerge saves them;
    `data` itself when nothing needs it or the bytes are not understood."""
    try:
        out = _rewrite(data, _deflate, None)
    except _Unreadable:
        return data
    return data if out is None else out


def _inflate(spec: int, column: bytes, room: int) -> tuple[int, bytes]:
    if not spec & DEFLATE_BIT:
        return spec, column
    inflater = zlib.decompressobj(-15)
    try:
        plain = inflater.decompress(column, room + 1)
    except zlib.error as exc:
        raise _Unreadable from exc
    if len(plain) > room or inflater.unconsumed_tail or not inflater.eof:
        raise _Unreadable
    return spec & ~DEFLATE_BIT, plain


def _deflate(spec: int, column: bytes, room: int) -> tuple[int, bytes]:
    if spec & DEFLATE_BIT or len(column) < DEFLATE_MIN_BYTES:
        return spec, column
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return spec | DEFLATE_BIT, packer.compress(column) + packer.flush()


def _rewrite(data: bytes, column_of: ColumnOf, limit: int | None) -> bytes | None:
    """Every chunk of `data`, document chunks with `column_of` applied to each column; None
    when no column changed."""
    out, pos, changed = [], 0, False
    while pos < len(data):
        if data[pos:pos + 4] != MAGIC or pos + 9 > len(data):
            raise _Unreadable
        kind = data[pos + 8]
        length, body_at = _uleb(data, pos + 9)
        end = body_at + length
        if end > len(data):
            raise _Unreadable
        chunk = data[pos:end]
        if kind == DOCUMENT_CHUNK:
            body = data[body_at:end]
            if hashlib.sha256(data[pos + 8:end]).digest()[:4] != data[pos + 4:pos + 8]:
                raise _Unreadable  # a damaged chunk stays as it came
            room = (limit if limit is not None else len(body)) - len(body)
            new_body = _document_body(body, column_of, max(room, 0))
            if new_body is not None:
                chunk = _chunk(DOCUMENT_CHUNK, new_body)
                changed = True
        elif kind not in (CHANGE_CHUNK, COMPRESSED_CHANGE_CHUNK):
            raise _Unreadable
        out.append(chunk)
        pos = end
    return b"".join(out) if changed else None


def _document_body(body: bytes, column_of: ColumnOf, room: int) -> bytes | None:
    pos = 0
    actors, pos = _uleb(body, pos)
    for _ in range(actors):
        size, pos = _uleb(body, pos)
        pos += size
    heads, pos = _uleb(body, pos)
    pos += 32 * heads
    prefix_end = pos
    groups: list[list[tuple[int, int]]] = []
    for _ in range(2):  # the change columns, then the operation columns
        count, pos = _uleb(body, pos)
        group = []
        for _ in range(count):
            spec, pos = _uleb(body, pos)
            size, pos = _uleb(body, pos)
            group.append((spec, size))
        groups.append(group)
    new_groups: list[list[tuple[int, bytes]]] = []
    changed = False
    for group in groups:
        new_group = []
        for spec, size in group:
            column = body[pos:pos + size]
            if len(column) != size:
                raise _Unreadable
            pos += size
            new_spec, new_column = column_of(spec, column, room)
            room -= max(len(new_column) - size, 0)
            changed |= new_spec != spec
            new_group.append((new_spec, new_column))
        new_groups.append(new_group)
    if not changed:
        return None
    parts = [body[:prefix_end]]
    for new_group in new_groups:
        parts.append(_leb(len(new_group)))
        parts += [_leb(spec) + _leb(len(column)) for spec, column in new_group]
    for new_group in new_groups:
        parts += [column for _, column in new_group]
    parts.append(body[pos:])  # the head indexes after the columns, as they were
    return b"".join(parts)


def _chunk(kind: int, body: bytes) -> bytes:
    header = bytes([kind]) + _leb(len(body))
    return MAGIC + hashlib.sha256(header + body).digest()[:4] + header + body


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Unreadable
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
