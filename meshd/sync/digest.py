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
from collections.abc import Iterable, Iterator, Mapping

from meshd.wire import BUCKET_DIGEST_BYTES, DIGEST_BUCKETS, HASH_BYTES, Heads

FIRST_KINDS = ("directory:",)  # sent ahead of everything else in a bulk transfer
_TAIL_BYTES = 9  # after an entry's heads: its update stamp (8 bytes), then its bucket (1 byte)


def bucket_of(doc_id: str) -> int:
    """The bucket (0–255) a document falls in, the same on every device."""
    return hashlib.blake2b(doc_id.encode(), digest_size=1).digest()[0] % DIGEST_BUCKETS


def _entry_hash(doc_id: str, joined_heads: bytes) -> int:
    digest = hashlib.blake2b(doc_id.encode() + b"\0" + joined_heads, digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def _joined(doc_id: str, heads: Heads) -> bytes:
    """`heads` sorted and joined; ValueError unless each is a hash."""
    joined = b"".join(sorted(heads)) if len(heads) > 1 else b"".join(heads)
    if len(joined) != HASH_BYTES * len(heads) or (
            len(heads) > 1 and any(len(h) != HASH_BYTES for h in heads)):
        raise ValueError(f"heads of {doc_id!r} are not {HASH_BYTES}-byte hashes")
    return joined


def _heads_of(entry: bytes) -> Heads:
    """The sorted heads packed in an entry (see HeadsDigest)."""
    end = len(entry) - _TAIL_BYTES
    return tuple(entry[i:i + HASH_BYTES] for i in range(0, end, HASH_BYTES))


class HeadsDigest:
    """The heads of every document held here, kept with per-bucket digests.

    Each document is one bytes entry: its sorted heads joined, the update stamp (8 bytes),
    then its bucket (1 byte). A node holds 50,000 of them for as long as it runs: a tuple of
    heads, a stamp in a dict and a member of a bucket's set cost about three times as much.
    The documents' port (meshd.sync.documents) reads the heads it last announced from here too.
    """

    def __init__(self, heads: Mapping[str, Heads] | None = None) -> None:
        self._entries: dict[str, bytes] = {}
        self._digests = [0] * DIGEST_BUCKETS
        self._counts = [0] * DIGEST_BUCKETS  # documents per bucket
        self._clock = 0
        for doc_id, doc_heads in (heads or {}).items():
            self.update(doc_id, doc_heads)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._entries

    def get(self, doc_id: str) -> Heads | None:
        """The heads held of `doc_id` (sorted), or None if it is unknown here."""
        entry = self._entries.get(doc_id)
        return None if entry is None else _heads_of(entry)

    def update(self, doc_id: str, heads: Heads) -> None:
        """Record `heads` as the current heads of `doc_id` (unchanged heads change nothing)."""
        joined = _joined(doc_id, heads)
        old = self._entries.get(doc_id)
        if old is None:
            bucket = bucket_of(doc_id)
            self._counts[bucket] += 1
        elif old[:-_TAIL_BYTES] == joined:
            return
        else:
            bucket = old[-1]
            self._digests[bucket] ^= _entry_hash(doc_id, old[:-_TAIL_BYTES])
        self._clock += 1
        self._entries[doc_id] = joined + (self._clock << 8 | bucket).to_bytes(_TAIL_BYTES, "big")
        self._digests[bucket] ^= _entry_hash(doc_id, joined)

    def rank(self, doc_id: str) -> tuple[int, int]:
        """Sort key of a bulk transfer: the directory first, then the most recent first."""
        first = 0 if doc_id.startswith(FIRST_KINDS) else 1
        entry = self._entries.get(doc_id)
        stamp = 0 if entry is None else int.from_bytes(entry[-_TAIL_BYTES:-1], "big")
        return first, -stamp

    def recent_first(self, entries: Iterable[tuple[str, Heads]]) -> list[tuple[str, Heads]]:
        """(doc id, heads) entries in `rank` order."""
        return sorted(entries, key=lambda entry: self.rank(entry[0]))

    def encoded(self) -> bytes:
        """The bucket digests as the Digest message carries them."""
        # The low bit marks a non-empty bucket, so one never looks empty to a peer.
        return b"".join(
            (d | 1 if self._counts[i] else 0).to_bytes(BUCKET_DIGEST_BYTES, "big")
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
        """Every (doc id, heads) held in the given buckets, bucket by bucket."""
        wanted = set(buckets)
        found = [(e[-1], d, e) for d, e in self._entries.items() if e[-1] in wanted]
        found.sort(key=lambda item: item[0])  # stable: within a bucket, the order held
        return [(d, _heads_of(e)) for _, d, e in found]
