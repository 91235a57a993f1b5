"""Attachment blobs between devices: the charts sync first, then each device fetches the blobs
its charts reference and it lacks, over the same sealed peer sessions (docs/ARCHITECTURE.md §5).

A blob is pulled a chunk at a time (`BlobRequest` -> `BlobChunk`, one stored row each), at most
WINDOW chunks in flight per fetch, so neither side ever holds more than a few chunks queued for
a peer. Peers are asked in turn until one sends the whole blob; its size must be one a chart
takes and its bytes must hash to the SHA-256 asked for, or it is dropped and the next peer is
asked. `fetch` serves a page that needs a blob now; the background loop fetches what
`wanted()` lists (referenced, not held) whenever a peer's change arrives, and retries every
`retry_s` while something is missing (a peer holding it may connect later).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from crdt_model.attachments import MAX_ATTACHMENT_BYTES
from meshd import wire
from meshd.docs import Listener
from meshd.lifecycle import Lifecycle
from meshd.store.base import BLOB_CHUNK_BYTES, BlobStore
from meshd.sync.ports import LOCAL_ORIGIN

log = logging.getLogger(__name__)

WINDOW = 4  # chunks asked of one peer before the first of them arrived
CHUNK_TIMEOUT_S = 60.0  # a chunk of 256 KiB at 128 kbit/s takes 16 s; four in flight, 64 s
RETRY_S = 5.0
SETTLE_S = 1.0  # a burst of arriving changes (an initial sync) is looked at once a second

Send = Callable[[wire.BlobRequest], None]
Peers = Callable[[], Sequence[tuple[str, Send]]]
"""The connected peers: (peer id, a call that queues a request to that peer)."""
Wanted = Callable[[], Awaitable[list[str]]]
"""SHA-256s (hex) that charts here reference and this device does not hold."""


async def nothing_wanted() -> list[str]:
    """The default list of missing attachments: none (sync run without a clinic)."""
    return []


class BlobUnavailable(Exception):
    """A peer does not hold the blob, sent a bad chunk, or went quiet (internal: next peer)."""


class BlobSync(Lifecycle):
    """Answers peers' requests for blobs held here and fetches the ones missing here."""

    def __init__(
        self, store: BlobStore, peers: Peers, wanted: Wanted,
        subscribe: Callable[[Listener], Callable[[], None]], *,
        retry_s: float = RETRY_S, chunk_timeout_s: float = CHUNK_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._peers = peers
        self._wanted = wanted
        self._subscribe = subscribe
        self._retry_s = retry_s
        self._chunk_timeout_s = chunk_timeout_s
        self._waiters: dict[tuple[str, bytes, int], asyncio.Future[wire.BlobChunk]] = {}
        self._fetching: dict[str, asyncio.Task[bool]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.fetched = 0
        self.refused = 0
        self.started = asyncio.Event()

    async def start(self) -> None:
        """Follow arriving changes and start the background fetch."""
        if self._loop is not None:
            return
        self._unsubscribe = self._subscribe(self._heard)
        self._loop = asyncio.create_task(self._fetch_loop())
        self.started.set()

    async def stop(self) -> None:
        """Stop the background fetch and every fetch in flight; safe twice."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [t for t in (self._loop, *self._fetching.values()) if t is not None]
        self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.started.clear()

    def status(self) -> dict[str, int]:
        """Blobs fetched from peers, refused (bytes not matching their SHA-256), in flight."""
        return {"fetched": self.fetched, "refused": self.refused, "fetching": len(self._fetching)}

    # --- serving peers -------------------------------------------------------------------

    async def answer(self, request: wire.BlobRequest) -> wire.BlobChunk:
        """The chunk a peer asked for, or a chunk_count of 0 when it is not held here."""
        found = await self._store.blob_chunk(request.sha256.hex(), request.seq)
        if found is None:
            return wire.BlobChunk(request.sha256, request.seq, 0, 0, "", b"")
        return wire.BlobChunk(request.sha256, found.seq, found.chunk_count, found.size,
                              found.content_type, found.data)

    def received(self, peer_id: str, chunk: wire.BlobChunk) -> None:
        """Hand a peer's chunk to the fetch that asked for it (others are dropped)."""
        waiter = self._waiters.get((peer_id, chunk.sha256, chunk.seq))
        if waiter is not None and not waiter.done():
            waiter.set_result(chunk)

    # --- fetching ------------------------------------------------------------------------

    async def fetch(self, sha256: str) -> bool:
        """Fetch the blob from the connected peers unless held; whether it is held after."""
        if await self._store.blobs_held([sha256]):
            return True
        task = self._fetching.get(sha256)
        if task is None:
            task = asyncio.create_task(self._fetch(sha256))
            self._fetching[sha256] = task
            task.add_done_callback(lambda _t: self._fetching.pop(sha256, None))
        return await asyncio.shield(task)

    async def _fetch(self, sha256: str) -> bool:
        for peer_id, send in self._peers():
            try:
                data, content_type = await self._from_peer(peer_id, send, bytes.fromhex(sha256))
            except BlobUnavailable as exc:
                log.debug("blob %s not from %s: %s", sha256[:12], peer_id[:12], exc)
                continue
            if hashlib.sha256(data).hexdigest() != sha256:
                self.refused += 1
                log.warning("peer %s sent bytes that do not match attachment %s", peer_id[:12],
                            sha256[:12])
                continue
            await self._store.put_blob(sha256, data, content_type)
            self.fetched += 1
            return True
        return False

    async def _from_peer(self, peer_id: str, send: Send, sha: bytes) -> tuple[bytes, str]:
        asked: dict[int, asyncio.Future[wire.BlobChunk]] = {}
        try:
            first = await self._chunk(self._ask(asked, peer_id, send, sha, 0))
            count, size = first.chunk_count, first.size
            if count == 0:
                raise BlobUnavailable("not held there")
            if not 0 < size <= MAX_ATTACHMENT_BYTES or count != -(-size // BLOB_CHUNK_BYTES):
                raise BlobUnavailable(f"a blob of {size} bytes in {count} chunks")
            parts = [_checked(first, 0, count, size)]
            following = 1
            for seq in range(1, count):
                while following < count and following - seq < WINDOW:
                    self._ask(asked, peer_id, send, sha, following)
                    following += 1
                parts.append(_checked(await self._chunk(asked[seq]), seq, count, size))
            return b"".join(parts), first.content_type
        finally:
            for seq, future in asked.items():
                future.cancel()
                self._waiters.pop((peer_id, sha, seq), None)

    def _ask(self, asked: dict[int, asyncio.Future[wire.BlobChunk]], peer_id: str, send: Send,
             sha: bytes, seq: int) -> asyncio.Future[wire.BlobChunk]:
        future: asyncio.Future[wire.BlobChunk] = asyncio.get_running_loop().create_future()
        asked[seq] = self._waiters[(peer_id, sha, seq)] = future
        send(wire.BlobRequest(sha, seq))
        return future

    async def _chunk(self, future: asyncio.Future[wire.BlobChunk]) -> wire.BlobChunk:
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._chunk_timeout_s)
        except TimeoutError:
            raise BlobUnavailable("no answer") from None

    # --- the background fetch ------------------------------------------------------------

    def _heard(self, doc_id: str, heads: tuple[bytes, ...], origin: str) -> None:
        if origin != LOCAL_ORIGIN and doc_id.startswith("chart:"):
            self._wake.set()

    async def _fetch_loop(self) -> None:
        while True:
            self._wake.clear()
            missing: list[str] = []
            try:
                for sha256 in await self._wanted():
                    if not await self.fetch(sha256):
                        missing.append(sha256)
            except Exception:  # a failed round must not end the loop: the next one retries
                log.exception("fetching attachments failed")
                missing.append("")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._retry_s if missing else None)
            await asyncio.sleep(SETTLE_S)


def _checked(chunk: wire.BlobChunk, seq: int, count: int, size: int) -> bytes:
    """The chunk's bytes if it is the one expected, of the right length."""
    length = min(BLOB_CHUNK_BYTES, size - seq * BLOB_CHUNK_BYTES)
    if (chunk.seq, chunk.chunk_count, chunk.size, len(chunk.data)) != (seq, count, size, length):
        raise BlobUnavailable(f"chunk {seq} does not fit the blob")
    return chunk.data
