"""The peer protocol's messages and their one encoding (msgpack), with validation on decode.

Every message is a slotted dataclass; `encode` turns one into bytes and `decode` turns bytes
back into one, checking types and sizes first. Anything malformed raises SyncError: decoding
never trusts a peer. This module does no I/O and no cryptography (see meshd.sync.crypto).

Encoded form: a msgpack array `[WIRE_VERSION, kind, *fields]`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeAlias

import msgpack

from crdt_model.errors import SyncError

WIRE_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_DOC_ID_CHARS = 200
MAX_NAME_CHARS = 100
MAX_HEADS = 256
MAX_ITEMS = 100_000
HASH_BYTES = 32
KEY_BYTES = 32
NONCE_BYTES = 32
SIGNATURE_BYTES = 64
DIGEST_BUCKETS = 256
BUCKET_DIGEST_BYTES = 8

Heads: TypeAlias = tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ClientHello:
    """First frame of a session, in clear: the dialer's ephemeral X25519 key and a nonce."""

    KIND: ClassVar[int] = 1
    ephemeral: bytes
    nonce: bytes


@dataclass(frozen=True, slots=True)
class ServerHello:
    """The listener's answer, in clear: its ephemeral X25519 key and a nonce."""

    KIND: ClassVar[int] = 2
    ephemeral: bytes
    nonce: bytes


@dataclass(frozen=True, slots=True)
class Auth:
    """Sealed proof of identity: a rostered device key signing the handshake transcript.

    An invited device's first dial proves its invite's key and its own (`next_key`, signing
    with it in `next_signature`), which replaces the invite's for good; both empty otherwise.
    """

    KIND: ClassVar[int] = 3
    device_key: bytes
    device_name: str
    signature: bytes
    next_key: bytes = b""
    next_signature: bytes = b""


@dataclass(frozen=True, slots=True)
class Digest:
    """One 8-byte digest of (doc id, heads) per bucket of doc ids; zero bytes = empty bucket."""

    KIND: ClassVar[int] = 4
    buckets: bytes


@dataclass(frozen=True, slots=True)
class DocHeads:
    """A document and the heads the sender holds of it."""

    doc_id: str
    heads: Heads


@dataclass(frozen=True, slots=True)
class BucketHeads:
    """The sender's (doc id, heads) of documents in differing buckets, or that it announces."""

    KIND: ClassVar[int] = 5
    entries: tuple[DocHeads, ...]


@dataclass(frozen=True, slots=True)
class Want:
    """Documents the sender lacks entirely: send their whole saved bytes."""

    KIND: ClassVar[int] = 6
    doc_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SavedDoc:
    """One document's whole saved bytes (a snapshot, maybe followed by change chunks)."""

    doc_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Snapshots:
    """A batch of whole documents, for bulk sync to a device that lacks them."""

    KIND: ClassVar[int] = 7
    docs: tuple[SavedDoc, ...]


@dataclass(frozen=True, slots=True)
class ChangeItem:
    """New change chunks of one document: they build on `base` and lead to `heads`."""

    doc_id: str
    base: Heads
    heads: Heads
    data: bytes


@dataclass(frozen=True, slots=True)
class Changes:
    """Pushed change chunks, sent at once when a document changes (locally or by a peer)."""

    KIND: ClassVar[int] = 8
    items: tuple[ChangeItem, ...]


@dataclass(frozen=True, slots=True)
class SyncItem:
    """One Automerge sync-protocol message for one document."""

    doc_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class SyncMessages:
    """A batch of Automerge sync-protocol messages, for documents whose heads differ."""

    KIND: ClassVar[int] = 9
    items: tuple[SyncItem, ...]


Message: TypeAlias = (
    ClientHello | ServerHello | Auth | Digest | BucketHeads | Want | Snapshots | Changes
    | SyncMessages
)
_KINDS: dict[int, type[Any]] = {
    cls.KIND: cls
    for cls in (
        ClientHello, ServerHello, Auth, Digest, BucketHeads, Want, Snapshots, Changes,
        SyncMessages,
    )
}


def encode(message: Message) -> bytes:
    """The msgpack bytes of `message`, version first."""
    body = [_plain(getattr(message, f.name)) for f in fields(message)]
    packed: bytes = msgpack.packb([WIRE_VERSION, message.KIND, *body], use_bin_type=True)
    return packed


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return [_plain(getattr(value, f.name)) for f in fields(value)]
    return value


def decode(data: bytes) -> Message:
    """The message encoded in `data`; SyncError if it is malformed in any way."""
    if len(data) > MAX_FRAME_BYTES:
        raise SyncError("frame too large")
    try:
        raw = msgpack.unpackb(
            data, raw=False, use_list=True, strict_map_key=True,
            max_bin_len=MAX_FRAME_BYTES, max_str_len=MAX_FRAME_BYTES,
            max_array_len=MAX_ITEMS, max_map_len=0, max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises many unrelated types on bad input
        raise SyncError(f"frame is not valid msgpack: {type(exc).__name__}") from exc
    if not isinstance(raw, list) or len(raw) < 2:
        raise SyncError("frame is not a message")
    version, kind, *body = raw
    if version != WIRE_VERSION:
        raise SyncError(f"unsupported protocol version {version!r}")
    cls = _KINDS.get(kind) if isinstance(kind, int) else None
    if cls is None:
        raise SyncError(f"unknown message kind {kind!r}")
    message: Message = _DECODERS[cls](_fields(body, len(fields(cls))))
    return message


def _fields(value: Any, count: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != count:
        raise SyncError("message has the wrong shape")
    return value


def _bytes(value: Any, size: int | None = None, limit: int = MAX_FRAME_BYTES) -> bytes:
    if not isinstance(value, bytes) or len(value) > limit:
        raise SyncError("expected bytes")
    if size is not None and len(value) != size:
        raise SyncError(f"expected {size} bytes, got {len(value)}")
    return value


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise SyncError("expected a short non-empty string")
    return value


def _list(value: Any, limit: int = MAX_ITEMS) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise SyncError("expected a list")
    return value


def _heads(value: Any) -> Heads:
    return tuple(_bytes(h, HASH_BYTES) for h in _list(value, MAX_HEADS))


def _doc_id(value: Any) -> str:
    return _text(value, MAX_DOC_ID_CHARS)


def _hello(cls: type[Any]) -> Any:
    return lambda b: cls(_bytes(b[0], KEY_BYTES), _bytes(b[1], NONCE_BYTES))


def _auth(b: list[Any]) -> Auth:
    enrols = b[3] != b""
    return Auth(_bytes(b[0], KEY_BYTES), _text(b[1], MAX_NAME_CHARS), _bytes(b[2], SIGNATURE_BYTES),
                _bytes(b[3], KEY_BYTES) if enrols else _bytes(b[3], 0),
                _bytes(b[4], SIGNATURE_BYTES) if enrols else _bytes(b[4], 0))


def _digest(b: list[Any]) -> Digest:
    return Digest(_bytes(b[0], DIGEST_BUCKETS * BUCKET_DIGEST_BYTES))


def _bucket_heads(b: list[Any]) -> BucketHeads:
    entries = []
    for raw in _list(b[0]):
        doc_id, heads = _fields(raw, 2)
        entries.append(DocHeads(_doc_id(doc_id), _heads(heads)))
    return BucketHeads(tuple(entries))


def _want(b: list[Any]) -> Want:
    return Want(tuple(_doc_id(d) for d in _list(b[0])))


def _snapshots(b: list[Any]) -> Snapshots:
    docs = []
    for raw in _list(b[0]):
        doc_id, data = _fields(raw, 2)
        docs.append(SavedDoc(_doc_id(doc_id), _bytes(data)))
    return Snapshots(tuple(docs))


def _changes(b: list[Any]) -> Changes:
    items = []
    for raw in _list(b[0]):
        doc_id, base, heads, data = _fields(raw, 4)
        items.append(ChangeItem(_doc_id(doc_id), _heads(base), _heads(heads), _bytes(data)))
    return Changes(tuple(items))


def _sync_messages(b: list[Any]) -> SyncMessages:
    items = []
    for raw in _list(b[0]):
        doc_id, data = _fields(raw, 2)
        items.append(SyncItem(_doc_id(doc_id), _bytes(data)))
    return SyncMessages(tuple(items))


_DECODERS: dict[type[Any], Any] = {
    ClientHello: _hello(ClientHello),
    ServerHello: _hello(ServerHello),
    Auth: _auth,
    Digest: _digest,
    BucketHeads: _bucket_heads,
    Want: _want,
    Snapshots: _snapshots,
    Changes: _changes,
    SyncMessages: _sync_messages,
}
