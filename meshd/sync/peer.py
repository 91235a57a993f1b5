"""One live session with one peer: read and act on its messages, drain its Outbox to it.

The reader never waits on the peer (only on local documents), so a slow or stuck peer stalls
nothing but its own session. Bad data is reported for quarantine and counted; MAX_STRIKES of it
ends the session as PeerMisbehaving. Its link's gossip state (eager or lazy) is `gossip`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable

from crdt_model.errors import ClinicMeshError, CorruptDocument, SyncError
from meshd import wire, wire_pack
from meshd.store.base import Attestation
from meshd.sync.arrivals import BadData as BadData
from meshd.sync.arrivals import Intake
from meshd.sync.digest import HeadsDigest
from meshd.sync.doc_sync import DocSync
from meshd.sync.gossip import GossipLink
from meshd.sync.handshake import SecureChannel
from meshd.sync.outbox import Outbox
from meshd.sync.ports import (
    LOCAL_ORIGIN,
    DocChange,
    SyncedBlobs,
    SyncedDocuments,
)

log = logging.getLogger(__name__)

MAX_STRIKES = 5
OFFERED_KEPT = 8192  # documents whose offered signatures are kept for the data that follows


class PeerMisbehaving(SyncError):
    """A peer kept sending malformed or corrupt data; it is disconnected and backed off."""


class PeerSession:
    """Sync with one authenticated peer until the link closes or the peer misbehaves."""

    def __init__(
        self, channel: SecureChannel, address: str, dialed: bool,
        documents: SyncedDocuments, index: HeadsDigest, on_bad: Callable[[BadData], None],
        blobs: SyncedBlobs | None = None,
        *, pruning: Callable[[], bool] = lambda: False, lazy_delay_s: float = 0.0,
    ) -> None:
        self.channel = channel
        self.address = address
        self.dialed = dialed
        self.busy = False  # the peer refused the session: it holds all it may (wire.Busy)
        self.strikes = 0
        self.received: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.finished = asyncio.Event()
        self._documents = documents
        self._index = index
        self._on_bad = on_bad
        self._blobs = blobs
        self._closing = asyncio.Event()
        self._refusing = False
        self._wanted: set[str] = set()
        self._peer_heads: dict[str, wire.Heads] = {}
        self.sync_received: Counter[str] = Counter()
        self._offered: OrderedDict[str, list[Attestation]] = OrderedDict()  # newest last
        self.doc_sync = DocSync(channel.peer_name)
        self._intake = Intake()  # snapshot batches read ahead while earlier ones are stored
        self.outbox = Outbox(documents, index, self.doc_sync, self._peer_heads, lazy_delay_s)
        self.gossip = GossipLink(self.outbox, index, self._peer_heads, pruning=pruning,
                                 lazy_delay_s=lazy_delay_s, request=self._request,
                                 closing=self._closing)

    @property
    def peer_id(self) -> str:
        """The peer's device key as hex."""
        return self.channel.peer_id

    def pending_out(self) -> int:
        """Documents with something queued for this peer."""
        return self.outbox.pending()

    def pending_in(self) -> int:
        """Documents asked of this peer and not yet received."""
        return len(self._wanted)

    def push(self, change: DocChange) -> None:
        """Queue a change unless the peer has exactly these heads; on a relay link only this
        device's own edits (the relay has the others' from their authors, or by anti-entropy:
        two linked devices never both send one change), but all on a relay's `push_all` link."""
        if self._peer_heads.get(change.doc_id) != change.heads and (
                change.origin == LOCAL_ORIGIN or self.channel.push_all or not self.channel.linked):
            self.outbox.push(change)

    def refuse_busy(self) -> None:
        """Tell the peer this device has no room for its session, then end it."""
        self.outbox.control(wire.Busy())
        self._refusing = True

    def request_anti_entropy(self, *, periodic: bool = False) -> None:
        """Send our bucket digests soon; a `periodic` round waits out a bulk transfer."""
        self.outbox.digest(periodic=periodic)

    def close(self) -> None:
        """End the session soon (idempotent)."""
        self._closing.set()

    async def run(self) -> None:
        """Read and write until the link closes; raises PeerMisbehaving for a bad peer."""
        tasks = [
            asyncio.create_task(self._read_loop()),
            asyncio.create_task(self._write_loop()),
            asyncio.create_task(self._closing.wait()),
            *self._intake.tasks(),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if isinstance(exc, PeerMisbehaving):
                    raise exc
                if isinstance(exc, ClinicMeshError | OSError):
                    log.info("session with %s ended: %s", self.channel.peer_name, exc)
                elif exc is not None:  # a bug here must end one session, never the daemon
                    log.error("session with %s failed", self.channel.peer_name, exc_info=exc)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.channel.link.close()
            self.finished.set()

    # --- writing -------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            await self.outbox.wake.wait()
            self.outbox.wake.clear()
            while (message := await self.outbox.next_message()) is not None:
                self.sent[type(message).__name__] += 1
                await self.channel.send(message)
                if self._refusing:
                    return

    # --- reading -------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            plaintext = await self.channel.receive_frame()
            try:
                message = self.channel.unpacker.unpacked(wire.decode(plaintext))
            except SyncError as exc:  # after a broken stream, nothing can be read: it ends
                bad = BadData("", f"malformed message: {exc.message}", plaintext[:256])
                self._strike(bad, fatal=isinstance(exc, wire_pack.BrokenStream))
                continue
            self.received[type(message).__name__] += 1
            await self._handle(message)

    async def _handle(self, message: wire.Message) -> None:
        if isinstance(message, wire.Digest):
            self._on_digest(message)
        elif isinstance(message, wire.BucketHeads):
            self._on_bucket_heads(message)
        elif isinstance(message, wire.Want):
            self.outbox.snapshots(d for d in message.doc_ids if d in self._index)
        elif isinstance(message, wire.Snapshots):
            self.outbox.received_bulk(len(message.docs))
            self._wanted.difference_update(d.doc_id for d in message.docs)
            items = [(d.doc_id, d.data) for d in message.docs]
            offered = {d: self._offered[d] for d, _ in items if d in self._offered}
            await self._intake.put(lambda: self._apply(items, offered))
        elif isinstance(message, wire.Changes):
            await self._on_changes(message)
        elif isinstance(message, wire.SyncMessages):
            await self._on_sync(message)
        elif isinstance(message, wire.Attestations):
            self._on_attestations(message)
        elif isinstance(message, wire.BlobRequest) and self._blobs is not None:
            self.outbox.blob(await self._blobs.answer(message))
        elif isinstance(message, wire.BlobChunk) and self._blobs is not None:
            self._blobs.received(self.peer_id, message)
        elif isinstance(message, wire.IHave | wire.Prune | wire.Graft):
            self.gossip.on_message(message)
        elif isinstance(message, wire.Busy):
            self.busy = True
            self.close()
        else:
            self._strike(BadData("", f"unexpected {type(message).__name__}", b""))

    def _on_attestations(self, message: wire.Attestations) -> None:
        """Keep the signatures that prove the changes the next messages bring (bounded)."""
        for doc_id, signed in message.items:
            self._offered.pop(doc_id, None)
            self._offered[doc_id] = [Attestation(*entry) for entry in signed]
        while len(self._offered) > OFFERED_KEPT:
            self._offered.popitem(last=False)

    def _on_digest(self, message: wire.Digest) -> None:
        exchange: list[int] = []
        bare: list[int] = []
        for bucket, mine_empty, theirs_empty in self._index.differing(message.buckets):
            if theirs_empty:
                bare.append(bucket)
            elif not mine_empty:
                exchange.append(bucket)
        # Where the peer holds nothing, send whole documents and no lists of heads.
        self.outbox.snapshots(d for d, _ in self._index.in_buckets(bare))
        # Recent first, so the peer asks for what it lacks in that order too.
        self.outbox.heads_of(self._index.recent_first(self._index.in_buckets(exchange)))

    def _on_bucket_heads(self, message: wire.BucketHeads) -> None:
        want: list[str] = []
        differ: list[str] = []
        for entry in message.entries:
            self._peer_heads[entry.doc_id] = entry.heads
            mine = self._index.get(entry.doc_id)
            if mine is None:
                want.append(entry.doc_id)
            elif mine != entry.heads:
                differ.append(entry.doc_id)
        self._request(want)
        self.outbox.sync(differ)

    def _request(self, doc_ids: list[str]) -> None:
        fresh = [d for d in doc_ids if d not in self._wanted]
        self._wanted.update(fresh)
        self.outbox.want(fresh)

    async def _on_changes(self, message: wire.Changes) -> None:
        batch: list[wire.ChangeItem] = []
        for item in message.items:
            self._peer_heads[item.doc_id] = item.heads
            mine = self._index.get(item.doc_id)
            if mine == item.heads:
                self.gossip.duplicate()
                continue  # already here, by another path
            if mine is None and item.base:
                self._request([item.doc_id])  # only the tail of a document we never had
            else:
                batch.append(item)
        results = await self._apply([(i.doc_id, i.data) for i in batch])
        # Chunks whose dependencies we lack change nothing: let the sync protocol fill the gap.
        self.outbox.sync(
            i.doc_id for i, new in zip(batch, results, strict=True)
            if new is False and self._index.get(i.doc_id) != i.heads
        )

    async def _on_sync(self, message: wire.SyncMessages) -> None:
        for item in message.items:
            self.sync_received[item.doc_id] += 1
            doc = await self._documents.load(item.doc_id)
            try:
                received = self.doc_sync.receive(item.doc_id, doc, item.data)
            except CorruptDocument as exc:
                self.doc_sync.forget(item.doc_id)
                self._strike(BadData(item.doc_id, exc.message, item.data))
                continue
            if received.gained:
                await self._apply([(item.doc_id, received.gained)])
            if received.reset and doc is None:
                self._request([item.doc_id])  # start over: ask for the whole document
            elif received.reset:
                self.outbox.snapshots([item.doc_id])  # start over: send ours whole
            elif received.reply:
                self.outbox.sync([item.doc_id])

    async def _apply(self, items: list[tuple[str, bytes]],
                     offered: dict[str, list[Attestation]] | None = None) -> list[bool]:
        if not items:
            return []
        if offered is None:  # the signatures offered so far (a batch read ahead took its own)
            offered = {d: self._offered[d] for d, _ in items if d in self._offered}
        results = await self._documents.apply_remote(items, self.peer_id, offered)
        outcome: list[bool] = []
        for (doc_id, data), result in zip(items, results, strict=True):
            if isinstance(result, CorruptDocument):
                self.doc_sync.forget(doc_id)  # what the inbound copy took in was refused
                self._strike(BadData(doc_id, result.message, data))
                outcome.append(True)  # quarantined: nothing more to ask for
            else:
                outcome.append(result)
        return outcome

    def _strike(self, bad: BadData, fatal: bool = False) -> None:
        self.strikes += 1
        self._on_bad(bad)
        if fatal or self.strikes >= MAX_STRIKES:
            raise PeerMisbehaving(f"{self.channel.peer_name} sent bad data: {bad.reason}")
