"""Live updates for the web UI: document changes as an async iterator per subscriber.

`Documents.subscribe` calls a listener after every durable change (local or synced). Each UI
subscriber (an open page's event stream) gets its own bounded, coalescing buffer: a change to a
document already waiting is not queued twice, and when a slow client lets the buffer fill, the
oldest waiting event is dropped. The listener never awaits, so a slow page can't hold up a
writer or the sync engine. Closing the iterator (or dropping it) unsubscribes it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Protocol

from crdt_model.errors import ValidationError
from crdt_model.ids import parse_doc_id
from meshd.clinic.base import Listener
from meshd.sync.ports import Heads
from ui.records import ChangeEvent

# Distinct documents a subscriber may have waiting; a page only needs to know "refresh".
MAX_PENDING_EVENTS = 256


class Changes(Protocol):
    """Where changes are heard: the clinic core (or its Documents)."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after every durable change; returns the unsubscribe call."""
        ...


class Subscription(AsyncIterator[ChangeEvent]):
    """One subscriber's changes, oldest first; `aclose()` (or `async with`) ends it."""

    def __init__(self, documents: Changes, max_pending: int = MAX_PENDING_EVENTS) -> None:
        self._pending: OrderedDict[str, ChangeEvent] = OrderedDict()
        self._max_pending = max_pending
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0
        # Documents holds only a weak reference, so a dropped iterator can be collected.
        heard = weakref.WeakMethod(self._heard)

        def listener(doc_id: str, heads: Heads, origin: str) -> None:
            method = heard()
            if method is not None:
                method(doc_id, heads, origin)

        self._unsubscribe = documents.subscribe(listener)

    def _heard(self, doc_id: str, heads: Heads, origin: str) -> None:
        """Called by Documents after a durable change: O(1), never waits."""
        try:
            kind, _ = parse_doc_id(doc_id)
        except ValidationError:
            return
        if doc_id in self._pending:
            return  # already waiting: the page refreshes once for both changes
        if len(self._pending) >= self._max_pending:
            self._pending.popitem(last=False)
            self.dropped += 1
        self._pending[doc_id] = ChangeEvent(doc_id, kind)
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ChangeEvent:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        _, event = self._pending.popitem(last=False)
        return event

    async def aclose(self) -> None:
        """Stop listening; a waiting `__anext__` ends with StopAsyncIteration."""
        self.close()

    def close(self) -> None:
        """Synchronous twin of `aclose`; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._unsubscribe()
            self._pending.clear()
            self._ready.set()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A page that vanished without closing its iterator must not leave a listener behind.
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None and not self._closed:
            self._closed = True
            unsubscribe()
