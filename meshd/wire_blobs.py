"""The peer protocol's attachment messages (meshd.sync.blobs): their dataclasses and checked
decoders. `meshd.wire` registers and encodes them with the others. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from crdt_model.errors import SyncError
from meshd.wire_fields import HASH_BYTES, bytes_of, text_of

MAX_BLOB_CHUNK_BYTES = 256 * 1024  # meshd.store.base.BLOB_CHUNK_BYTES: one stored row
MAX_BLOB_CHUNKS = 1024  # 256 MiB: far above any attachment a chart takes
MAX_CONTENT_TYPE_CHARS = 129


@dataclass(frozen=True, slots=True)
class BlobRequest:
    """Ask for chunk `seq` of the attachment blob whose SHA-256 is `sha256` (meshd.sync.blobs)."""

    KIND: ClassVar[int] = 11
    sha256: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class BlobChunk:
    """Chunk `seq` of `chunk_count` of a blob of `size` bytes stored as `content_type`; a
    `chunk_count` of 0 (and no data) says the sender does not hold that blob."""

    KIND: ClassVar[int] = 12
    sha256: bytes
    seq: int
    chunk_count: int
    size: int
    content_type: str
    data: bytes


def _count(value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SyncError("expected a count in range")
    return value


def blob_request(b: list[Any]) -> BlobRequest:
    return BlobRequest(bytes_of(b[0], HASH_BYTES), _count(b[1], 0, MAX_BLOB_CHUNKS - 1))


def blob_chunk(b: list[Any]) -> BlobChunk:
    count = _count(b[2], 0, MAX_BLOB_CHUNKS)
    seq = _count(b[1], 0, max(count - 1, 0))
    size = _count(b[3], 0, MAX_BLOB_CHUNKS * MAX_BLOB_CHUNK_BYTES)
    kind = b[4] if count == 0 and b[4] == "" else text_of(b[4], MAX_CONTENT_TYPE_CHARS)
    return BlobChunk(bytes_of(b[0], HASH_BYTES), seq, count, size, kind,
                     bytes_of(b[5], limit=MAX_BLOB_CHUNK_BYTES))
