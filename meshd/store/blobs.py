"""Attachment blobs in the SQLCipher store: one row per blob, its bytes in BLOB_CHUNK_BYTES rows.

Functions take an open connection; `put` runs in the writer thread inside its transaction, the
reads on a reader connection. The digest is checked here too: the store never holds bytes under
a name they do not hash to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from crdt_model.errors import StoreError
from meshd.store.base import BLOB_CHUNK_BYTES, BlobChunk

IN_LIST_MAX = 500


def chunks_of(data: bytes) -> list[bytes]:
    """`data` cut into stored chunks (at least one)."""
    return [data[i:i + BLOB_CHUNK_BYTES] for i in range(0, max(len(data), 1), BLOB_CHUNK_BYTES)]


def check_digest(sha256: str, data: bytes) -> None:
    """StoreError unless `data` hashes to `sha256`."""
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoreError("the attachment's bytes do not match its SHA-256")


def put(conn: Any, sha256: str, data: bytes, content_type: str, now_ms: int) -> None:
    """Store the blob unless it is here already."""
    if conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha256,)).fetchone():
        return
    check_digest(sha256, data)
    chunks = chunks_of(data)
    conn.execute(
        "INSERT INTO blobs (sha256, size, chunk_count, content_type, stored_at)"
        " VALUES (?, ?, ?, ?, ?)", (sha256, len(data), len(chunks), content_type, now_ms))
    conn.executemany("INSERT INTO blob_chunks (sha256, seq, bytes) VALUES (?, ?, ?)",
                     [(sha256, seq, chunk) for seq, chunk in enumerate(chunks)])


def chunk(conn: Any, sha256: str, seq: int) -> BlobChunk | None:
    """One stored chunk with the blob's chunk count and size, or None."""
    row = conn.execute(
        "SELECT b.chunk_count, b.size, b.content_type, c.bytes FROM blobs b JOIN blob_chunks c"
        " ON c.sha256 = b.sha256 WHERE b.sha256 = ? AND c.seq = ?", (sha256, seq)).fetchone()
    if row is None:
        return None
    return BlobChunk(seq, int(row[0]), int(row[1]), str(row[2]), bytes(row[3]))


def read(conn: Any, sha256: str) -> tuple[bytes, str] | None:
    """The whole blob and its content type, or None."""
    row = conn.execute("SELECT content_type FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None:
        return None
    parts = conn.execute(
        "SELECT bytes FROM blob_chunks WHERE sha256 = ? ORDER BY seq", (sha256,)).fetchall()
    return b"".join(bytes(p[0]) for p in parts), str(row[0])


def held(conn: Any, sha256s: Sequence[str]) -> set[str]:
    """Which of `sha256s` are stored."""
    found: set[str] = set()
    for start in range(0, len(sha256s), IN_LIST_MAX):
        part = list(sha256s[start:start + IN_LIST_MAX])
        found.update(row[0] for row in conn.execute(
            f"SELECT sha256 FROM blobs WHERE sha256 IN ({','.join('?' * len(part))})", part))
    return found
