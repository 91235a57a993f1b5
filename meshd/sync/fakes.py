"""In-memory fakes of the sync engine's ports, for tests and benchmarks.

`MemoryNetwork` hands out `MemoryTransport`s whose links are pairs of bounded queues, and can
partition addresses from each other. `MemoryDocuments` keeps Automerge documents in a dict and
implements `SyncedDocuments` exactly as the node's `Documents` must.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence

from crdt_model.adapter import Doc, Tx
from crdt_model.errors import CorruptDocument, SyncError
from meshd.store.base import Attestation
from meshd.sync.digest import HeadsDigest
from meshd.sync.ports import (
    LOCAL_ORIGIN,
    ApplyResult,
    DocChange,
    Heads,
    LinkClosed,
    LinkHandler,
)

LINK_QUEUE_FRAMES = 64


class MemoryLink:
    """One end of an in-memory link; the queue bound gives backpressure like a socket."""

    def __init__(self, remote: str, inbox: asyncio.Queue[bytes | None],
                 outbox: asyncio.Queue[bytes | None], network: MemoryNetwork | None = None,
                 ) -> None:
        self._remote = remote
        self._network = network
        self._inbox = inbox
        self._outbox = outbox
        self.closed = False
        self.peer: MemoryLink | None = None

    @property
    def remote(self) -> str:
        """The address of the other end."""
        return self._remote

    async def send(self, frame: bytes) -> None:
        """Queue one frame for the other end."""
        if self.closed:
            raise LinkClosed("link closed")
        if self._network is not None:
            self._network.frames += 1
        await self._outbox.put(bytes(frame))

    async def receive(self) -> bytes:
        """The next frame from the other end."""
        if self.closed:
            raise LinkClosed("link closed")
        frame = await self._inbox.get()
        if frame is None:
            self.closed = True
            raise LinkClosed("peer closed the link")
        return frame

    def authenticated(self) -> None:
        """Nothing to lift: an in-memory link has no size limit before the handshake."""

    async def close(self) -> None:
        """Close both ends."""
        for end in (self, self.peer):
            if end is not None and not end.closed:
                end.closed = True
                with contextlib.suppress(asyncio.QueueFull):
                    end._outbox.put_nowait(None)
                with contextlib.suppress(asyncio.QueueFull):
                    end._inbox.put_nowait(None)


class MemoryNetwork:
    """A switch for in-memory transports: addresses, links, and partitions."""

    def __init__(self) -> None:
        self.frames = 0  # frames sent over every link so far (benchmarks count them)
        self.listeners: dict[str, MemoryTransport] = {}
        self._blocked: set[frozenset[str]] = set()
        self._links: list[tuple[str, str, MemoryLink]] = []

    def transport(self, address: str) -> MemoryTransport:
        """A transport that will listen at `address`."""
        return MemoryTransport(self, address)

    def partition(self, group_a: Sequence[str], group_b: Sequence[str]) -> None:
        """Cut every link between the two groups and refuse new ones until `heal`."""
        cut = {frozenset((a, b)) for a in group_a for b in group_b}
        self._blocked |= cut
        for a, b, link in self._links:
            if frozenset((a, b)) in cut:
                asyncio.get_running_loop().create_task(link.close())

    def heal(self) -> None:
        """Allow every link again."""
        self._blocked.clear()

    def _connect(self, source: str, target: str) -> MemoryLink:
        listener = self.listeners.get(target)
        if listener is None or frozenset((source, target)) in self._blocked:
            raise LinkClosed(f"{target} is unreachable")
        a_to_b: asyncio.Queue[bytes | None] = asyncio.Queue(LINK_QUEUE_FRAMES)
        b_to_a: asyncio.Queue[bytes | None] = asyncio.Queue(LINK_QUEUE_FRAMES)
        dialer = MemoryLink(target, b_to_a, a_to_b, self)
        accepted = MemoryLink(source, a_to_b, b_to_a, self)
        dialer.peer, accepted.peer = accepted, dialer
        self._links.append((source, target, dialer))
        listener._incoming(accepted)
        return dialer


class MemoryTransport:
    """A Transport over a MemoryNetwork."""

    def __init__(self, network: MemoryNetwork, address: str) -> None:
        self._network = network
        self._address = address
        self._on_link: LinkHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: list[MemoryLink] = []

    @property
    def address(self) -> str:
        """The address this transport listens at."""
        return self._address

    async def start(self, on_link: LinkHandler) -> None:
        """Start accepting links."""
        self._on_link = on_link
        self._network.listeners[self._address] = self

    async def connect(self, address: str) -> MemoryLink:
        """Open a link to `address`."""
        link = self._network._connect(self._address, address)
        self._links.append(link)
        return link

    def _incoming(self, link: MemoryLink) -> None:
        assert self._on_link is not None
        self._links.append(link)
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._on_link(link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop listening and close every link."""
        self._network.listeners.pop(self._address, None)
        for link in self._links:
            await link.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class MemoryDocuments:
    """Documents in a dict, implementing SyncedDocuments; `edit` is the local write path."""

    def __init__(self, actor: bytes) -> None:
        self.actor = actor
        self.docs: dict[str, Doc] = {}
        self.writes = 0
        self._listeners: list[Callable[[DocChange], None]] = []

    def edit(self, doc_id: str, build: Callable[[Tx], None]) -> DocChange:
        """Make a local change (creating the document if new) and announce it."""
        doc = self.docs.setdefault(doc_id, Doc.new(self.actor))
        base = tuple(doc.heads())
        heads = tuple(doc.change(build))
        change = DocChange(doc_id, base, heads, doc.changes_since(list(base)), LOCAL_ORIGIN)
        self._announce(change)
        return change

    def announce(self, change: DocChange) -> None:
        """Announce a change as if it had been written here (tests use it to inject bad data)."""
        self._announce(change)

    def _announce(self, change: DocChange) -> None:
        for listener in list(self._listeners):
            listener(change)

    async def heads_index(self) -> HeadsDigest:
        """The heads of every document."""
        return HeadsDigest({d: tuple(doc.heads()) for d, doc in self.docs.items()})

    async def load(self, doc_id: str) -> Doc | None:
        """The document, or None."""
        return self.docs.get(doc_id)

    async def saved(self, doc_ids: Sequence[str]) -> dict[str, bytes]:
        """Saved bytes of each known document."""
        return {d: self.docs[d].save() for d in doc_ids if d in self.docs}

    async def attestations(self, doc_ids: Sequence[str]) -> dict[str, list[Attestation]]:
        """None: these documents are not signed (engine tests run without an Attestor)."""
        return {}

    async def apply_remote(
        self, items: Sequence[tuple[str, bytes]], origin: str,
        offered: Mapping[str, Sequence[Attestation]] | None = None,
    ) -> list[ApplyResult]:
        """Merge each item; corrupt ones change nothing (signatures are not checked here)."""
        if not origin or origin == LOCAL_ORIGIN:
            raise SyncError("remote data needs the peer it came from")
        results: list[ApplyResult] = []
        self.writes += 1
        for doc_id, data in items:
            try:
                results.append(self._apply_one(doc_id, data, origin))
            except CorruptDocument as exc:
                results.append(exc)
        return results

    def _apply_one(self, doc_id: str, data: bytes, origin: str) -> bool:
        doc = self.docs.get(doc_id)
        if not data:
            return False
        if doc is None:
            doc = Doc.load(data, self.actor)
            base: Heads = ()
        else:
            base = tuple(doc.heads())
            if not doc.apply(data):  # leaves the document as it was on failure
                return False
        self.docs[doc_id] = doc
        heads = tuple(doc.heads())
        self._announce(DocChange(doc_id, base, heads, doc.changes_since(list(base)), origin))
        return True

    def subscribe(self, listener: Callable[[DocChange], None]) -> Callable[[], None]:
        """Call `listener` after every change."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)
