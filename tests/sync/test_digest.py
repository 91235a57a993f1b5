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
