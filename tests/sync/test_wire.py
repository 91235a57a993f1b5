"""The wire format: every message round-trips, and anything malformed raises SyncError."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdt_model.errors import SyncError
from meshd import wire

HEAD = b"\x11" * 32
MESSAGES: list[wire.Message] = [
    wire.ClientHello(b"\x01" * 32, b"\x02" * 32),
    wire.ServerHello(b"\x03" * 32, b"\x04" * 32),
    wire.Auth(b"\x05" * 32, "Triage tablet", b"\x06" * 64),
    wire.Auth(b"\x05" * 32, "Lab (enrolling)", b"\x06" * 64, b"\x07" * 32, b"\x08" * 64),
    wire.Digest(bytes(range(256)) * 8),
    wire.BucketHeads((wire.DocHeads("chart:1", (HEAD,)), wire.DocHeads("queue:f:2026", ()))),
    wire.Want(("chart:1", "chart:2")),
    wire.Snapshots((wire.SavedDoc("chart:1", b"\x85o\x4a\x83..."),)),
    wire.Changes((wire.ChangeItem("chart:1", (), (HEAD,), b"chunk"),)),
    wire.SyncMessages((wire.SyncItem("chart:1", b"sync"),)),
    wire.BlobRequest(HEAD, 3),
    wire.BlobChunk(HEAD, 1, 2, 300_000, "image/jpeg", b"\xff" * (300_000 - 262_144)),
    wire.BlobChunk(HEAD, 0, 0, 0, "", b""),  # "not held here"
    wire.IHave((("chart:1", (HEAD,)),)),
    wire.Prune(),
    wire.Graft(),
    wire.Busy(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: wire.Message) -> None:
    assert wire.decode(wire.encode(message)) == message


def _packed(*items: object) -> bytes:
    packed: bytes = msgpack.packb(list(items), use_bin_type=True)
    return packed


@pytest.mark.parametrize("data", [
    b"",
    b"\xc1",
    _packed(wire.WIRE_VERSION + 1, 4, bytes(2048)),  # a future protocol version
    _packed(wire.WIRE_VERSION - 1, 4, bytes(2048)),  # the one before (per-frame zstd)
    _packed(1, 99),  # unknown kind
    _packed(1, 4),  # missing field
    _packed(1, 4, bytes(10)),  # digest of the wrong size
    _packed(1, 3, b"\x05" * 32, "", b"\x06" * 64),  # empty device name
    _packed(1, 3, b"\x05" * 31, "x", b"\x06" * 64),  # short key
    _packed(1, 6, ["x" * 201]),  # doc id too long
    _packed(1, 8, [["chart:1", [], [b"short"], b"d"]]),  # head of the wrong size
    _packed(1, 8, [["chart:1", [], [HEAD], "text not bytes"]]),
    _packed(1, 9, [["chart:1"]]),
    msgpack.packb({"version": 1}),
    _packed(wire.WIRE_VERSION, 11, b"short", 0),  # a blob named by less than a SHA-256
    _packed(wire.WIRE_VERSION, 11, HEAD, -1),
    _packed(wire.WIRE_VERSION, 12, HEAD, 2, 2, 10, "image/png", b"x"),  # seq past the count
    _packed(wire.WIRE_VERSION, 12, HEAD, 0, 1, 10, "", b"x"),  # held, but of no type
    _packed(wire.WIRE_VERSION, 12, HEAD, 0, 1, 10, "image/png", bytes(256 * 1024 + 1)),
], ids=str)
def test_malformed_frames_raise_sync_error(data: bytes) -> None:
    with pytest.raises(SyncError):
        wire.decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_anything_but_sync_error(data: bytes) -> None:
    try:
        wire.decode(data)
    except SyncError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MESSAGES), st.integers(0, 10_000), st.integers(0, 255))
def test_flipped_bytes_decode_to_a_valid_message_or_sync_error(
    message: wire.Message, position: int, value: int
) -> None:
    data = bytearray(wire.encode(message))
    data[position % len(data)] = value
    try:
        decoded = wire.decode(bytes(data))
    except SyncError:
        return
    assert type(decoded) in {type(m) for m in MESSAGES}
