"""Bulk messages compressed as one zstd stream per session direction (meshd.wire_pack): each
decodes on arrival, later ones refer back to earlier ones, and a stream that is broken,
hostile or out of order ends with BrokenStream without inflating past what it claims."""

from __future__ import annotations

import random
import tracemalloc
import uuid

import pytest
import zstandard

from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import SyncError
from crdt_model.sample import build_sample_chart
from meshd import wire
from meshd.wire_pack import MAX_WINDOW_BYTES, PACK_MAX_BYTES, BrokenStream, Packer, Unpacker

AUTHOR = Author("dev1", "system", 1_763_800_000_000)


def _batches(count: int, per_batch: int = 10) -> list[wire.Snapshots]:
    rng = random.Random(11)
    charts = [build_sample_chart(str(uuid.UUID(int=rng.getrandbits(128), version=4)), AUTHOR, rng)
              for _ in range(count * per_batch)]
    docs = [wire.SavedDoc(f"chart:{i:04d}", doc.save()) for i, doc in enumerate(charts)]
    return [wire.Snapshots(tuple(docs[i:i + per_batch])) for i in range(0, len(docs), per_batch)]


def _heads(doc: wire.SavedDoc) -> tuple[str, list[bytes]]:
    return doc.doc_id, Doc.load(doc.data).heads()


def _stream(data: bytes, *, window_log: int = 21) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    packer = zstandard.ZstdCompressor(compression_params=params).compressobj()
    return packer.compress(data) + packer.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


def test_a_stream_of_batches_decodes_in_order_and_beats_compressing_each_alone() -> None:
    batches = _batches(6)
    packer, unpacker = Packer(), Unpacker()
    packed = [packer.pack(b) for b in batches]
    assert all(isinstance(p, wire.Packed) for p in packed)
    for sent, message in zip(batches, packed, strict=True):  # each as it arrives, in order
        got = unpacker.unpacked(wire.decode(wire.encode(message)))
        assert isinstance(got, wire.Snapshots)
        assert [_heads(d) for d in got.docs] == [_heads(d) for d in sent.docs]
    streamed = sum(len(p.data) for p in packed if isinstance(p, wire.Packed))
    alone = sum(len(zstandard.ZstdCompressor(level=3).compress(wire.encode(b))) for b in batches)
    assert streamed < alone * 0.75


def test_small_messages_and_pushed_changes_stay_plain() -> None:
    packer = Packer()
    small = wire.Want(("chart:1",))
    changes = wire.Changes((wire.ChangeItem("chart:1", (), (b"\x11" * 32,), bytes(4096)),))
    assert packer.pack(small) is small
    assert packer.pack(changes) is changes
    assert isinstance(packer.pack(wire.Want(tuple(f"chart:{i}" for i in range(200)))),
                      wire.Packed)


def test_a_decompression_bomb_is_refused_without_inflating_it() -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=21)
    packer = zstandard.ZstdCompressor(compression_params=params).compressobj()
    bomb = b"".join(packer.compress(bytes(1024 * 1024)) for _ in range(32))  # 32 MiB of zeros
    bomb += packer.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    assert len(bomb) < 8 * 1024
    tracemalloc.start()
    try:
        unpacker = Unpacker()
        with pytest.raises(BrokenStream, match="larger than it claims"):
            unpacker.unpacked(wire.Packed(1024, bomb))
        with pytest.raises(BrokenStream, match="larger than any"):
            Unpacker().unpacked(wire.Packed(PACK_MAX_BYTES + 1, bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 2 * PACK_MAX_BYTES + 1024 * 1024  # never the 32 MiB it holds
    with pytest.raises(BrokenStream, match="broke earlier"):  # nothing more is read from it
        unpacker.unpacked(Packer().pack(_batches(1)[0]))


def test_a_window_over_the_limit_is_refused() -> None:
    inner = wire.encode(wire.Want(tuple(f"chart:{i}" for i in range(100))))
    wide = _stream(inner, window_log=MAX_WINDOW_BYTES.bit_length())  # twice the limit
    with pytest.raises(BrokenStream):
        Unpacker().unpacked(wire.Packed(len(inner), wide))
    assert Unpacker().unpacked(wire.Packed(len(inner), _stream(inner))) == wire.decode(inner)


def test_a_message_out_of_order_or_missing_breaks_the_stream() -> None:
    first, second = (Packer(), Packer())
    batches = _batches(2)
    one, two = first.pack(batches[0]), first.pack(batches[1])
    assert isinstance(one, wire.Packed) and isinstance(two, wire.Packed)
    with pytest.raises(BrokenStream):
        Unpacker().unpacked(two)  # its first message never came
    unpacker = Unpacker()
    unpacker.unpacked(one)
    with pytest.raises(BrokenStream):  # a message of another stream
        unpacker.unpacked(second.pack(batches[1]))


@pytest.mark.parametrize("size, inner", [
    (5, wire.encode(wire.Want(("chart:1",)))),  # bigger than it claims
    (40, wire.encode(wire.Want(("chart:1",)))),  # smaller than it claims
], ids=["long", "short"])
def test_a_message_not_the_size_it_claims_breaks_the_stream(size: int, inner: bytes) -> None:
    with pytest.raises(BrokenStream):
        Unpacker().unpacked(wire.Packed(size, _stream(inner)))


def test_not_zstd_breaks_the_stream() -> None:
    with pytest.raises(BrokenStream):
        Unpacker().unpacked(wire.Packed(10, b"not zstd at all"))


def test_a_packed_non_message_is_refused_and_the_stream_goes_on() -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=21)
    sender = zstandard.ZstdCompressor(compression_params=params).compressobj()

    def next_block(data: bytes) -> wire.Packed:
        block = sender.compress(data) + sender.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return wire.Packed(len(data), block)

    unpacker = Unpacker()
    nested = wire.encode(wire.Packed(3, b"abc"))
    with pytest.raises(SyncError) as refused:
        unpacker.unpacked(next_block(b"\x01" * 10))
    assert not isinstance(refused.value, BrokenStream)
    with pytest.raises(SyncError, match="inside a packed"):
        unpacker.unpacked(next_block(nested))
    want = wire.Want(tuple(f"chart:{i}" for i in range(100)))
    assert unpacker.unpacked(next_block(wire.encode(want))) == want  # still in step
