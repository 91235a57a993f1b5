"""What is waiting to go to one peer, taken most urgent first, one frame at a time.

Outgoing work is pulled, never pushed into a blocking queue: the session's writer asks for the
next message when the link is free, so whoever adds work never waits on the peer and a slow
peer only slows its own session. Pushed changes beyond PUSH_BACKLOG are dropped for an
anti-entropy round, which works out what the peer lacks. Order: control messages, the digest,
pushed changes, announcements, lazy gossip (IHave, sent `lazy_delay_s` after its first entry
so that one frame carries what changed meanwhile), sync-protocol messages, bulk snapshots,
then attachment blobs (charts first: a blob is only fetched by a device that has the chart
naming it). Bulk snapshots go most urgent first (HeadsDigest.rank: the directory, then the
most recently changed documents), so a long initial sync brings recent days before history and
a cut link resumed later has the recent part already. Bulk snapshots, sync-message batches
and heads lists are compressed on their way out, as one stream per session (meshd.wire_pack,
in SecureChannel.send): messages come out of here plain.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Callable, Iterable
from typing import TypeVar

from crdt_model.errors import CorruptDocument
from meshd import wire
from meshd.store.base import Attestation
from meshd.sync.digest import HeadsDigest
from meshd.sync.doc_sync import DocSync
from meshd.sync.ports import LOCAL_ORIGIN, DocChange, SyncedDocuments

FRAME_BUDGET_BYTES = 1024 * 1024
# Bulk frames (snapshots, sync-message batches) are small, raw (~3 KiB in the session's zstd
# stream): a cut link loses little, and a fresh edit waits behind at most one.
BULK_FRAME_BYTES = 64 * 1024
PUSH_BACKLOG = 512
EAGER_PUSH_BYTES = 64 * 1024
SNAPSHOT_BATCH_DOCS = 256
MAX_ENTRIES_PER_MESSAGE = 4096
BLOB_BACKLOG = 16  # blob messages queued for one peer (4 MiB of chunks); more are dropped
_T = TypeVar("_T")


class Outbox:
    """The work queued for one peer; `wake` is set whenever there is some."""

    def __init__(self, documents: SyncedDocuments, index: HeadsDigest,
                 doc_sync: DocSync, peer_heads: dict[str, wire.Heads] | None = None,
                 lazy_delay_s: float = 0.0) -> None:
        self.wake = asyncio.Event()
        self._peer_heads = {} if peer_heads is None else peer_heads
        self._lazy_delay_s = lazy_delay_s
        self._lazy: dict[str, wire.Heads] = {}
        self._lazy_due = False
        self._documents = documents
        self._index = index
        self._doc_sync = doc_sync
        self._digest_due = False
        self._bulk_in = False  # batches of whole documents came since the last periodic round
        self._control: deque[wire.Message] = deque()
        self._pushes: deque[wire.ChangeItem] = deque()
        self._announce: dict[str, wire.Heads] = {}
        self._sync_docs: dict[str, None] = {}
        self._snapshot_docs: set[str] = set()
        self._snapshot_order: list[tuple[tuple[int, int], str]] = []  # heap by HeadsDigest.rank
        self._bulk: deque[wire.Message] = deque()  # snapshot frames ready, signatures first
        self._blobs: deque[wire.BlobRequest | wire.BlobChunk] = deque()

    def pending(self) -> int:
        """Documents with something waiting."""
        return (len(self._pushes) + len(self._announce) + len(self._lazy)
                + len(self._sync_docs) + len(self._snapshot_docs) + len(self._bulk)
                + len(self._blobs))

    def received_bulk(self, docs: int) -> None:
        """The peer sent a batch of `docs` whole documents (one is an answer, more are bulk)."""
        self._bulk_in |= docs > 1

    def push(self, change: DocChange) -> None:
        """Queue a change; a whole document from another peer, or a big one, is only announced.

        Announcing by heads lets the peer ask only for what it lacks, so a device's bulk
        download is not echoed to every other peer it knows.
        """
        if (change.origin != LOCAL_ORIGIN and not change.base) or (
            len(change.data) > EAGER_PUSH_BYTES
        ):
            self._announce[change.doc_id] = change.heads
        elif len(self._pushes) >= PUSH_BACKLOG:
            self._pushes.clear()
            self._digest_due = True
        else:
            self._pushes.append(
                wire.ChangeItem(change.doc_id, change.base, change.heads, change.data)
            )
        self.wake.set()

    def lazy(self, doc_id: str, heads: wire.Heads) -> None:
        """Announce these heads in the next IHave (lazy gossip), unless the peer has them."""
        if not self._lazy and not self._lazy_due:
            asyncio.get_running_loop().call_later(self._lazy_delay_s, self._lazy_ready)
        self._lazy[doc_id] = heads

    def _lazy_ready(self) -> None:
        self._lazy_due = True
        self.wake.set()

    def digest(self, *, periodic: bool = False) -> None:
        """Send our bucket digests at the next opportunity. A `periodic` round is skipped while
        a bulk transfer with this peer is under way (snapshots queued here, or batches of them
        received since the last round): the transfer brings what the round would find, and
        comparing heads half-way sends thousands of them and asks again for documents already
        on their way (1.5 MB of a 10,000-chart initial sync's 3.6 MB)."""
        bulk = self._bulk_in or bool(self._snapshot_docs or self._bulk)
        self._bulk_in = False
        if not (periodic and bulk):
            self._digest_due = True
            self.wake.set()

    def control(self, message: wire.Message) -> None:
        """Send a small protocol message ahead of any document data."""
        self._control.append(message)
        self.wake.set()

    def heads_of(self, entries: Iterable[tuple[str, wire.Heads]]) -> None:
        """Send (doc id, heads) lists, split into messages of bounded size."""
        batch = deque(wire.DocHeads(d, h) for d, h in entries)
        while batch:
            count = min(MAX_ENTRIES_PER_MESSAGE, len(batch))
            taken = tuple(batch.popleft() for _ in range(count))
            self.control(wire.BucketHeads(taken))

    def want(self, doc_ids: list[str]) -> None:
        """Ask for whole documents, split into messages of bounded size."""
        for start in range(0, len(doc_ids), MAX_ENTRIES_PER_MESSAGE):
            self.control(wire.Want(tuple(doc_ids[start:start + MAX_ENTRIES_PER_MESSAGE])))

    def sync(self, doc_ids: Iterable[str]) -> None:
        """Run (a step of) the Automerge sync protocol for these documents."""
        self._sync_docs.update((d, None) for d in doc_ids)
        self.wake.set()

    def snapshots(self, doc_ids: Iterable[str]) -> None:
        """Send these documents whole (bulk sync)."""
        for doc_id in doc_ids:
            if doc_id not in self._snapshot_docs:
                self._snapshot_docs.add(doc_id)
                heapq.heappush(self._snapshot_order, (self._index.rank(doc_id), doc_id))
        self.wake.set()

    def blob(self, message: wire.BlobRequest | wire.BlobChunk) -> None:
        """Send an attachment blob's request or chunk once no document data is waiting; beyond
        BLOB_BACKLOG a chunk is dropped (a peer asking faster than it reads gets no more memory
        here: its wait times out and it asks again); our own requests are few (a window)."""
        if isinstance(message, wire.BlobRequest) or len(self._blobs) < BLOB_BACKLOG:
            self._blobs.append(message)
            self.wake.set()

    async def next_message(self) -> wire.Message | None:
        """The most urgent message to send now, or None when there is nothing."""
        if self._control:
            return self._control.popleft()
        if self._digest_due:
            self._digest_due = False
            return wire.Digest(self._index.encoded())
        if self._pushes:
            changes = wire.Changes(tuple(_take(self._pushes, lambda i: len(i.data))))
            return await self._proven(changes, [i.doc_id for i in changes.items])
        if self._announce:
            ids = list(self._announce)[:MAX_ENTRIES_PER_MESSAGE]
            return wire.BucketHeads(tuple(wire.DocHeads(d, self._announce.pop(d)) for d in ids))
        if self._lazy_due:
            self._lazy_due = False
            lazy, self._lazy = self._lazy, {}
            # What the peer announced meanwhile, it has: no need to tell it.
            fresh = [(d, h) for d, h in lazy.items() if self._peer_heads.get(d) != h]
            if len(fresh) > MAX_ENTRIES_PER_MESSAGE:
                self._lazy = dict(fresh[MAX_ENTRIES_PER_MESSAGE:])
                self._lazy_due = True
            if fresh:
                return wire.IHave(tuple(fresh[:MAX_ENTRIES_PER_MESSAGE]))
        while self._sync_docs:
            items = await self._sync_batch()
            if items:
                return await self._proven(wire.SyncMessages(tuple(items)),
                                          [i.doc_id for i in items])
        if self._bulk:
            return self._bulk.popleft()
        while self._snapshot_docs:
            # The directory travels alone: a receiver learning the roster from it (the relay, at
            # first) checks the rest against it, so nothing else may share its batch.
            order = self._snapshot_order
            first = order[0][0][0]
            ids = [heapq.heappop(order)[1]]
            while order and len(ids) < SNAPSHOT_BATCH_DOCS and order[0][0][0] == first:
                ids.append(heapq.heappop(order)[1])
            self._snapshot_docs.difference_update(ids)
            found = await self._documents.saved(ids)
            signed = await self._documents.attestations(list(found))
            if signed:
                self._bulk.append(attestations_message(signed))
            saved = deque(wire.SavedDoc(d, b) for d, b in found.items())
            while saved:
                batch = wire.Snapshots(tuple(_take(saved, lambda d: len(d.data),
                                                   BULK_FRAME_BYTES)))
                self._bulk.append(batch)
            if self._bulk:
                return self._bulk.popleft()
        if self._blobs:
            return self._blobs.popleft()
        return None

    async def _proven(self, message: wire.Message, doc_ids: list[str]) -> wire.Message:
        """`message`, preceded by the signatures of its documents' changes (meshd.attest)."""
        signed = await self._documents.attestations(doc_ids)
        if not signed:
            return message
        self._control.appendleft(message)
        return attestations_message(signed)

    async def _sync_batch(self) -> list[wire.SyncItem]:
        items: list[wire.SyncItem] = []
        size = 0
        while self._sync_docs and size < BULK_FRAME_BYTES:
            doc_id = next(iter(self._sync_docs))
            del self._sync_docs[doc_id]
            doc = await self._documents.load(doc_id)
            if doc is None:
                continue
            try:
                data = self._doc_sync.generate(doc_id, doc)
            except CorruptDocument:
                continue  # a poisoned document: Documents reloads it, a later round retries
            if data is not None:
                items.append(wire.SyncItem(doc_id, data))
                size += len(data)
        return items


def attestations_message(signed: dict[str, list[Attestation]]) -> wire.Attestations:
    """The message carrying these documents' signatures, sent before their data."""
    return wire.Attestations(tuple(
        (doc_id, tuple((a.actor, a.seq, a.hash, a.sig) for a in found))
        for doc_id, found in signed.items()))


def _take(items: deque[_T], size: Callable[[_T], int],
          budget: int = FRAME_BUDGET_BYTES) -> list[_T]:
    """Pop items from the left while they fit one frame (always at least one)."""
    batch = [items.popleft()]
    total = size(batch[0])
    while items and total + size(items[0]) <= budget:
        total += size(items[0])
        batch.append(items.popleft())
    return batch
