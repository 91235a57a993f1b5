"""The peer protocol's messages that run a session rather than carry documents: the handshake
(ClientHello, ServerHello, Auth), gossip control (Prune, Graft, Busy) and the Packed envelope,
with their field checks. `meshd.wire` registers, encodes and decodes them with the others (and
re-exports them: use them as `wire.Auth`). Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from crdt_model.errors import SyncError
from meshd.wire_fields import MAX_FRAME_BYTES, bytes_of, text_of

MAX_NAME_CHARS = 100
KEY_BYTES = 32
NONCE_BYTES = 32
SIGNATURE_BYTES = 64


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
class Prune:
    """Gossip (meshd.sync.gossip): a change came twice, this time from you; from now on
    announce changes to me (IHave), don't push them."""

    KIND: ClassVar[int] = 14


@dataclass(frozen=True, slots=True)
class Graft:
    """Gossip: you announced a change that did not come otherwise; push changes to me again."""

    KIND: ClassVar[int] = 15


@dataclass(frozen=True, slots=True)
class Busy:
    """The listener holds as many sessions as it may (meshd.sync.peering): dial another."""

    KIND: ClassVar[int] = 16


@dataclass(frozen=True, slots=True)
class Packed:
    """Another message (bulk snapshots, a batch of sync messages), encoded and compressed as
    the next blocks of the session's zstd stream (meshd.wire_pack); `size` is its encoded
    size, at most MAX_FRAME_BYTES."""

    KIND: ClassVar[int] = 17
    size: int
    data: bytes


def _hello(cls: type[Any]) -> Any:
    return lambda b: cls(bytes_of(b[0], KEY_BYTES), bytes_of(b[1], NONCE_BYTES))


def _auth(b: list[Any]) -> Auth:
    enrols = b[3] != b""
    return Auth(bytes_of(b[0], KEY_BYTES), text_of(b[1], MAX_NAME_CHARS),
                bytes_of(b[2], SIGNATURE_BYTES),
                bytes_of(b[3], KEY_BYTES) if enrols else bytes_of(b[3], 0),
                bytes_of(b[4], SIGNATURE_BYTES) if enrols else bytes_of(b[4], 0))


def _packed(b: list[Any]) -> Packed:
    size = b[0]
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_FRAME_BYTES:
        raise SyncError("expected a packed size within the frame limit")
    return Packed(size, bytes_of(b[1]))


DECODERS: dict[type[Any], Callable[[list[Any]], Any]] = {
    ClientHello: _hello(ClientHello),
    ServerHello: _hello(ServerHello),
    Auth: _auth,
    Prune: lambda b: Prune(),
    Graft: lambda b: Graft(),
    Busy: lambda b: Busy(),
    Packed: _packed,
}
