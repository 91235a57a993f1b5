"""What this device holds, as (doc id → heads) with a digest per bucket of doc ids.

Anti-entropy compares two devices' 256 bucket digests, then only the (doc id, heads) lists of
buckets that differ. A bucket's digest is the XOR of a 64-bit hash of each (doc id, heads) in
it, so one change updates it in constant time; an empty bucket's digest is zero.

It also ranks documents for bulk transfer, most urgent first (`rank`): the clinic's directory
(the roster every other document is checked against), then the most recently changed. The
store lists documents oldest write first (`updated_at`), and every later update here makes a
document the most recent, so a bulk sync carries the clinical changes of recent days before
the history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from meshd.wire import BUCKET_DIGEST_BYTES, DIGEST_BUCKETS, Heads

FIRST_KINDS = ("directory:",)  # sent ahead of everything else in a bulk transfer


def bucket_of(doc_id: str) -> int:
    """The bucket (0–255) a document falls in, the same on every device."""
    return hashlib.blake2b(doc_id.encode(), digest_size=1).digest()[0] % DIGEST_BUCKETS


def _entry_hash(doc_id: str, heads: Heads) -> int:
    digest = hashlib.blake2b(doc_id.encode() + b"\0" + b"".join(heads), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


class HeadsDigest:
    """The heads of every document held here, kept with per-bucket digests."""

    def __init__(self, heads: dict[str, Heads] | None = None) -> None:
        self._heads: dict[str, Heads] = {}
        self._digests = [0] * DIGEST_BUCKETS
        self._buckets: list[set[str]] = [set() for _ in range(DIGEST_BUCKETS)]
        self._stamps: dict[str, int] = {}  # doc id -> when last updated here (a counter)
        self._clock = 0
        for doc_id, doc_heads in (heads or {}).items():
            self.update(doc_id, doc_heads)

    def __len__(self) -> int:
        return len(self._heads)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._heads

    def get(self, doc_id: str) -> Heads | None:
        """The heads held of `doc_id`, or None if it is unknown here."""
        return self._heads.get(doc_id)

    def update(self, doc_id: str, heads: Heads) -> None:
        """Record `heads` as the current heads of `doc_id`."""
        heads = tuple(sorted(heads))
        bucket = bucket_of(doc_id)
        old = self._heads.get(doc_id)
        if old is not None:
            self._digests[bucket] ^= _entry_hash(doc_id, old)
        else:
            self._buckets[bucket].add(doc_id)
        self._heads[doc_id] = heads
        self._digests[bucket] ^= _entry_hash(doc_id, heads)
        self._clock += 1
        self._stamps[doc_id] = self._clock

    def rank(self, doc_id: str) -> tuple[int, int]:
        """Sort key of a bulk transfer: the directory first, then the most recent first."""
        first = 0 if doc_id.startswith(FIRST_KINDS) else 1
        return first, -self._stamps.get(doc_id, 0)

    def recent_first(self, entries: Iterable[tuple[str, Heads]]) -> list[tuple[str, Heads]]:
        """(doc id, heads) entries in `rank` order."""
        return sorted(entries, key=lambda entry: self.rank(entry[0]))

    def encoded(self) -> bytes:
        """The bucket digests as the Digest message carries them."""
        # The low bit marks a non-empty bucket, so one never looks empty to a peer.
        return b"".join(
            (d | 1 if self._buckets[i] else 0).to_bytes(BUCKET_DIGEST_BYTES, "big")
            for i, d in enumerate(self._digests)
        )

    def differing(self, theirs: bytes) -> Iterator[tuple[int, bool, bool]]:
        """(bucket, mine empty, theirs empty) for every bucket whose digest differs from theirs."""
        mine = self.encoded()
        size = BUCKET_DIGEST_BYTES
        empty = bytes(size)
        for bucket in range(DIGEST_BUCKETS):
            span = slice(bucket * size, (bucket + 1) * size)
            a, b = mine[span], theirs[span]
            if a != b:
                yield bucket, a == empty, b == empty

    def in_buckets(self, buckets: Iterable[int]) -> list[tuple[str, Heads]]:
        """Every (doc id, heads) held in the given buckets."""
        return [(d, self._heads[d]) for b in sorted(set(buckets)) for d in self._buckets[b]]
