"""The live documents Documents keeps in memory: a bounded LRU of Docs and one lock per document.

A chart is ~1.7 kB saved but ~19 kB loaded (automerge's in-memory form) and a clinic keeps
50,000 of them, so only the busy ones stay: 128 of them are ~2.4 MB, where 2,000 were ~38 MB of
a 100 MB budget (docs/ARCHITECTURE.md §7). An evicted document is loaded again from the store (a
few ms: chart opens are measured cold). A lock exists while someone holds or waits for it (weak
values), and several are always taken in sorted order, so two multi-document writes can't
deadlock.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

from crdt_model.adapter import Doc
from crdt_model.errors import CorruptDocument

DEFAULT_CACHE_DOCS = 128  # the charts in use at once, the directory, facility and queues


@dataclass(slots=True)
class Cached:
    """A live document and whether the store holds it yet."""

    doc: Doc
    stored: bool  # False for a genesis doc not yet written: its first write is a snapshot


def poisoned(doc: Doc) -> bool:
    """Whether a panic inside automerge made `doc` unusable."""
    return bool(getattr(doc, "_poisoned", False))


class DocCache(OrderedDict[str, Cached]):
    """Live documents by id, least recently used first, at most `size` of them."""

    def __init__(self, size: int = DEFAULT_CACHE_DOCS) -> None:
        super().__init__()
        self.size = size
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def live(self, doc_id: str) -> Cached | None:
        """The cached document unless absent or poisoned, marked as just used."""
        entry = self.get(doc_id)
        if entry is None or poisoned(entry.doc):
            return None
        self.move_to_end(doc_id)
        return entry

    def remember(self, doc_id: str, entry: Cached) -> None:
        """Keep `entry` as the most recently used, evicting the oldest beyond `size`."""
        self[doc_id] = entry
        self.move_to_end(doc_id)
        while len(self) > self.size:
            self.popitem(last=False)

    def lock(self, doc_id: str) -> asyncio.Lock:
        """The lock of one document."""
        lock = self._locks.get(doc_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[doc_id] = lock
        return lock

    async def lock_all(self, stack: AsyncExitStack, doc_ids: Iterable[str]) -> None:
        """Take the locks of `doc_ids` (in sorted order) until `stack` closes."""
        for doc_id in sorted(set(doc_ids)):
            await stack.enter_async_context(self.lock(doc_id))

    def drop_changed(
        self, doc_ids: Sequence[str], entries: Sequence[Cached], before: Sequence[list[bytes]]
    ) -> None:
        """After a failed op, forget any doc it left changed or poisoned (reloaded from disk)."""
        for doc_id, entry, old in zip(doc_ids, entries, before, strict=True):
            try:
                changed = poisoned(entry.doc) or entry.doc.heads() != old
            except CorruptDocument:
                changed = True
            if changed:
                self.pop(doc_id, None)
