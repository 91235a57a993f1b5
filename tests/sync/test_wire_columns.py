"""Whole documents cross the wire with their columns inflated and are stored compact again."""

from __future__ import annotations

import random
import uuid

import zstandard

from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.sample import build_sample_chart
from meshd import wire, wire_pack
from meshd.wire_columns import compacted, expanded

AUTHOR = Author("dev1", "system", 1_763_800_000_000)


def _charts(count: int) -> list[Doc]:
    rng = random.Random(7)
    return [build_sample_chart(str(uuid.UUID(int=rng.getrandbits(128), version=4)), AUTHOR, rng)
            for _ in range(count)]


def test_expanded_and_compacted_documents_load_as_the_same_document() -> None:
    for doc in _charts(5):
        saved = doc.save()
        wide = expanded(saved)
        assert len(wide) > len(saved)  # the sample charts have deflated columns
        back = compacted(wide)
        assert len(back) < len(wide)
        for data in (wide, back):
            loaded = Doc.load(data)
            assert loaded.heads() == doc.heads()
            assert loaded.to_dict() == doc.to_dict()
        assert Doc.load(wide).save() == saved


def test_a_document_followed_by_change_chunks_keeps_its_chunks() -> None:
    doc = _charts(1)[0]
    saved = doc.save()
    heads = doc.heads()
    doc.change(lambda tx: tx.put((), "village", "Gulu"))
    data = saved + doc.changes_since(heads)
    back = compacted(expanded(data))
    assert Doc.load(back).heads() == doc.heads()
    assert Doc.load(back).to_dict() == doc.to_dict()


def test_unreadable_or_damaged_bytes_are_left_for_automerge_to_judge() -> None:
    saved = _charts(1)[0].save()
    damaged = saved[:20] + bytes([saved[20] ^ 1]) + saved[21:]  # checksum no longer matches
    for data in (b"", b"not automerge", saved[:30], damaged, saved + b"\x85o"):
        assert expanded(data) == data
        assert compacted(data) == data


def test_a_snapshot_batch_arrives_compact_and_packs_smaller_than_before() -> None:
    docs = _charts(40)
    batch = wire.Snapshots(tuple(wire.SavedDoc(f"chart:{i}", d.save()) for i, d in enumerate(docs)))
    packed = wire_pack.Packer().pack(batch)
    received = wire_pack.Unpacker().unpacked(wire.decode(wire.encode(packed)))
    assert isinstance(received, wire.Snapshots)
    for sent, got, doc in zip(batch.docs, received.docs, docs, strict=True):
        assert got.doc_id == sent.doc_id
        assert len(got.data) <= len(sent.data) * 1.1  # stored compact again
        assert Doc.load(got.data).heads() == doc.heads()
    assert isinstance(packed, wire.Packed)
    before = len(zstandard.ZstdCompressor(level=wire_pack.PACK_LEVEL).compress(
        b"".join(d.data for d in batch.docs)))
    assert len(packed.data) < before * 0.6
