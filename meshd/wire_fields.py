"""The checks `meshd.wire.decode` applies to each field of a peer's message: type and size,
else SyncError. Pure."""

from __future__ import annotations

from typing import Any, TypeAlias

from crdt_model.errors import SyncError

MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_DOC_ID_CHARS = 200
MAX_HEADS = 256
MAX_ITEMS = 100_000
HASH_BYTES = 32

Heads: TypeAlias = tuple[bytes, ...]


def fields_of(value: Any, count: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != count:
        raise SyncError("message has the wrong shape")
    return value


def bytes_of(value: Any, size: int | None = None, limit: int = MAX_FRAME_BYTES) -> bytes:
    if not isinstance(value, bytes) or len(value) > limit:
        raise SyncError("expected bytes")
    if size is not None and len(value) != size:
        raise SyncError(f"expected {size} bytes, got {len(value)}")
    return value


def text_of(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise SyncError("expected a short non-empty string")
    return value


def list_of(value: Any, limit: int = MAX_ITEMS) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise SyncError("expected a list")
    return value


def heads_of(value: Any) -> Heads:
    return tuple(bytes_of(h, HASH_BYTES) for h in list_of(value, MAX_HEADS))


def doc_id_of(value: Any) -> str:
    return text_of(value, MAX_DOC_ID_CHARS)
