"""Bucket digests: equal content gives equal digests; a change shows up in one bucket only."""

from __future__ import annotations

from meshd.sync.digest import HeadsDigest, bucket_of
from meshd.wire import BUCKET_DIGEST_BYTES, DIGEST_BUCKETS

H1, H2 = b"\x01" * 32, b"\x02" * 32


def test_same_documents_in_any_order_give_the_same_digest() -> None:
    a = HeadsDigest({"chart:1": (H1,), "chart:2": (H2, H1)})
    b = HeadsDigest({"chart:2": (H1, H2), "chart:1": (H1,)})
    assert a.encoded() == b.encoded()
    assert list(a.differing(b.encoded())) == []


def test_a_changed_document_differs_in_its_bucket_only() -> None:
    a = HeadsDigest({f"chart:{i}": (H1,) for i in range(100)})
    b = HeadsDigest({f"chart:{i}": (H1,) for i in range(100)})
    b.update("chart:7", (H2,))
    assert [d[0] for d in a.differing(b.encoded())] == [bucket_of("chart:7")]
    assert ("chart:7", (H1,)) in a.in_buckets([bucket_of("chart:7")])


def test_empty_buckets_are_all_zero_and_never_confused_with_full_ones() -> None:
    empty = HeadsDigest()
    assert empty.encoded() == bytes(DIGEST_BUCKETS * BUCKET_DIGEST_BYTES)
    one = HeadsDigest({"chart:1": (H1,)})
    ((bucket, mine_empty, theirs_empty),) = list(empty.differing(one.encoded()))
    assert bucket == bucket_of("chart:1") and mine_empty and not theirs_empty


def test_a_bulk_transfer_goes_directory_first_then_most_recent_first() -> None:
    import asyncio

    from crdt_model.adapter import Doc
    from meshd import wire
    from meshd.sync.doc_sync import DocSync
    from meshd.sync.fakes import MemoryDocuments
    from meshd.sync.outbox import SNAPSHOT_BATCH_DOCS, Outbox

    docs = MemoryDocuments(b"\x01" * 16)
    ids = [f"chart:{i:04d}" for i in range(SNAPSHOT_BATCH_DOCS + 10)]  # oldest first
    for doc_id in [*ids, "directory:m"]:
        docs.docs[doc_id] = Doc.new(docs.actor)
    index = HeadsDigest({d: (H1,) for d in [*ids, "directory:m"]})  # the store's order
    index.update(ids[3], (H2,))  # changed since: the most recent of all

    async def sent() -> list[str]:
        outbox = Outbox(docs, index, DocSync("peer"))
        outbox.snapshots([*ids, "directory:m"])
        order: list[str] = []
        while (message := await outbox.next_message()) is not None:
            if isinstance(message, wire.Snapshots):
                order += [d.doc_id for d in message.docs]
        return order

    order = asyncio.run(sent())
    assert order == ["directory:m", ids[3], *(d for d in reversed(ids) if d != ids[3])]


def test_heads_come_back_sorted_and_unchanged_heads_change_nothing() -> None:
    index = HeadsDigest({"chart:0": (H1,), "chart:1": (H2, H1)})
    assert index.get("chart:1") == (H1, H2) and index.get("chart:9") is None
    assert len(index) == 2 and "chart:1" in index and "chart:9" not in index
    before, rank = index.encoded(), index.rank("chart:0")
    index.update("chart:0", (H1,))  # heard again: neither its digest nor its recency moves
    assert index.encoded() == before and index.rank("chart:0") == rank
    index.update("chart:0", (H2,))
    assert index.get("chart:0") == (H2,) and index.rank("chart:0") < index.rank("chart:1")
    index.update("chart:0", (H1,))  # back to what it was: the digest too
    assert index.encoded() == before


def test_in_buckets_lists_each_document_of_the_asked_buckets_once() -> None:
    heads = {f"chart:{i}": (H1,) if i % 2 else (H1, H2) for i in range(300)}
    index = HeadsDigest(heads)
    asked = {bucket_of("chart:1"), bucket_of("chart:2"), bucket_of("chart:3")}
    found = index.in_buckets(asked)
    assert sorted(found) == sorted((d, h) for d, h in heads.items() if bucket_of(d) in asked)
    assert [bucket_of(d) for d, _ in found] == sorted(bucket_of(d) for d, _ in found)
    assert index.in_buckets(range(DIGEST_BUCKETS)) and len(index.in_buckets([])) == 0


def test_a_head_that_is_not_a_32_byte_hash_is_refused() -> None:
    import pytest

    index = HeadsDigest()
    with pytest.raises(ValueError):
        index.update("chart:1", (b"short",))
    assert len(index) == 0
