"""The peer protocol's messages and their one encoding (msgpack), with validation on decode.

Every message is a slotted dataclass; `encode` turns one into bytes and `decode` turns bytes
back into one (a msgpack array `[WIRE_VERSION, kind, *fields]`), checking types and sizes
first: anything malformed raises SyncError. No I/O and no cryptography here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeAlias

import msgpack

from crdt_model.errors import SyncError
from meshd.wire_blobs import BlobChunk as BlobChunk
from meshd.wire_blobs import BlobRequest as BlobRequest
from meshd.wire_blobs import blob_chunk, blob_request
from meshd.wire_columns import compacted, expanded
from meshd.wire_fields import HASH_BYTES as HASH_BYTES
from meshd.wire_fields import MAX_DOC_ID_CHARS as MAX_DOC_ID_CHARS
from meshd.wire_fields import MAX_FRAME_BYTES as MAX_FRAME_BYTES
from meshd.wire_fields import (
    MAX_HEADS,
    MAX_ITEMS,
    bytes_of,
    doc_id_of,
    fields_of,
    heads_of,
    list_of,
)
from meshd.wire_fields import Heads as Heads
from meshd.wire_session import DECODERS as SESSION_DECODERS
from meshd.wire_session import KEY_BYTES as KEY_BYTES
from meshd.wire_session import MAX_NAME_CHARS as MAX_NAME_CHARS
from meshd.wire_session import NONCE_BYTES as NONCE_BYTES
from meshd.wire_session import SIGNATURE_BYTES as SIGNATURE_BYTES
from meshd.wire_session import Auth as Auth
from meshd.wire_session import Busy as Busy
from meshd.wire_session import ClientHello as ClientHello
from meshd.wire_session import Graft as Graft
from meshd.wire_session import Packed as Packed
from meshd.wire_session import Prune as Prune
from meshd.wire_session import ServerHello as ServerHello

# 2: Attestations (signed changes); 3: BlobRequest, BlobChunk (attachments); 4: gossip
# (IHave, Prune, Graft, Busy), Packed (zstd); 5: Snapshots carry documents with their columns
# inflated (meshd.wire_columns); 6: Packed messages continue one zstd stream per session direction
WIRE_VERSION = 6
DIGEST_BUCKETS = 256
BUCKET_DIGEST_BYTES = 8


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


@dataclass(frozen=True, slots=True)
class Attestations:
    """Signatures proving the changes the next messages carry (meshd.attest): per document,
    (actor, seq, change hash, Ed25519 signature) of each actor's latest change."""

    KIND: ClassVar[int] = 10
    items: tuple[tuple[str, tuple[tuple[bytes, int, bytes, bytes], ...]], ...]


@dataclass(frozen=True, slots=True)
class IHave:
    """Lazy gossip (meshd.sync.gossip): the sender holds these heads; pull what does not come."""

    KIND: ClassVar[int] = 13
    entries: tuple[tuple[str, Heads], ...]


Message: TypeAlias = (
    ClientHello | ServerHello | Auth | Digest | BucketHeads | Want | Snapshots | Changes
    | SyncMessages | Attestations | BlobRequest | BlobChunk | IHave | Prune | Graft | Busy
    | Packed
)
_KINDS: dict[int, type[Any]] = {
    cls.KIND: cls
    for cls in (
        ClientHello, ServerHello, Auth, Digest, BucketHeads, Want, Snapshots, Changes,
        SyncMessages, Attestations, BlobRequest, BlobChunk, IHave, Prune, Graft, Busy, Packed,
    )
}


def encode(message: Message) -> bytes:
    """The msgpack bytes of `message`, version first. Whole documents go with their columns
    inflated (meshd.wire_columns), so a packed batch compresses across them."""
    if isinstance(message, Snapshots):
        message = Snapshots(tuple(SavedDoc(d.doc_id, expanded(d.data)) for d in message.docs))
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
    message: Message = _DECODERS[cls](fields_of(body, len(fields(cls))))
    return message


def _digest(b: list[Any]) -> Digest:
    return Digest(bytes_of(b[0], DIGEST_BUCKETS * BUCKET_DIGEST_BYTES))


def _bucket_heads(b: list[Any]) -> BucketHeads:
    entries = []
    for raw in list_of(b[0]):
        doc_id, heads = fields_of(raw, 2)
        entries.append(DocHeads(doc_id_of(doc_id), heads_of(heads)))
    return BucketHeads(tuple(entries))


def _ihave(b: list[Any]) -> IHave:
    return IHave(tuple((e.doc_id, e.heads) for e in _bucket_heads(b).entries))


def _want(b: list[Any]) -> Want:
    return Want(tuple(doc_id_of(d) for d in list_of(b[0])))


def _snapshots(b: list[Any]) -> Snapshots:
    docs = []
    for raw in list_of(b[0]):
        doc_id, data = fields_of(raw, 2)
        docs.append(SavedDoc(doc_id_of(doc_id), compacted(bytes_of(data))))
    return Snapshots(tuple(docs))


def _changes(b: list[Any]) -> Changes:
    items = []
    for raw in list_of(b[0]):
        doc_id, base, heads, data = fields_of(raw, 4)
        items.append(ChangeItem(doc_id_of(doc_id), heads_of(base), heads_of(heads), bytes_of(data)))
    return Changes(tuple(items))


def _sync_messages(b: list[Any]) -> SyncMessages:
    items = []
    for raw in list_of(b[0]):
        doc_id, data = fields_of(raw, 2)
        items.append(SyncItem(doc_id_of(doc_id), bytes_of(data)))
    return SyncMessages(tuple(items))


def _attestations(b: list[Any]) -> Attestations:
    items = []
    for raw in list_of(b[0]):
        doc_id, entries = fields_of(raw, 2)
        signed = tuple(_attestation(fields_of(e, 4)) for e in list_of(entries, MAX_HEADS))
        items.append((doc_id_of(doc_id), signed))
    return Attestations(tuple(items))


def _attestation(e: list[Any]) -> tuple[bytes, int, bytes, bytes]:
    if not isinstance(e[1], int) or not 0 < e[1] < 2**53:
        raise SyncError("expected a change sequence number")
    return bytes_of(e[0], 16), e[1], bytes_of(e[2], HASH_BYTES), bytes_of(e[3], SIGNATURE_BYTES)


_DECODERS: dict[type[Any], Any] = {
    **SESSION_DECODERS,
    Digest: _digest,
    BucketHeads: _bucket_heads,
    Want: _want,
    Snapshots: _snapshots,
    Changes: _changes,
    SyncMessages: _sync_messages,
    Attestations: _attestations,
    BlobRequest: blob_request,
    BlobChunk: blob_chunk,
    IHave: _ihave,
}
