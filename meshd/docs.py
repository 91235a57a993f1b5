"""Documents: the bounded cache of live Automerge documents in front of the document store.

Every change to a document goes through here: an operation runs on the cached Doc under the
document's lock, its new chunks, signatures (meshd.attest) and projections are written in one
durable transaction, and only then does the caller get its answer and listeners (sync push, UI)
hear of it. If the write fails the cached Doc is dropped: memory never holds what disk does not.
Sync sees it through `meshd.sync.documents.DocumentsPort`. Nothing clinical is known here.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

from crdt_model.adapter import Doc
from crdt_model.authority import DIRECTORY_PREFIX, check_own_change
from crdt_model.errors import CorruptDocument, NotFound, SyncError, ValidationError
from crdt_model.ids import CHART, parse_doc_id
from meshd.attest import Attest, Attestor, attest_stored
from meshd.doc_cache import DEFAULT_CACHE_DOCS, Cached, DocCache, poisoned
from meshd.ingest import batch_writes
from meshd.ingest_pool import IngestPool
from meshd.remote_changes import Check, Trial, finished, valid_items
from meshd.reprojection import REPROJECT_BATCH, reload, reproject, reproject_due
from meshd.store.base import Attestation, AuditEvent, DocumentStore, DocWrite, Projections
from meshd.sync.ports import LOCAL_ORIGIN, ApplyResult, Heads

log = logging.getLogger(__name__)
T = TypeVar("T")

Genesis = Callable[[str, bytes], "Doc | None"]
"""(doc id, device actor) -> the deterministic first state of a derived doc, or None."""
Projector = Callable[[str, Doc], "Projections | None"]
"""(doc id, doc) -> the store's projection rows for it."""
Listener = Callable[[str, "Heads", str], "Awaitable[None] | None"]
"""Called with (doc id, new heads, origin) once a change is durable; may be a coroutine."""
REMOTE_ORIGIN = "remote"


class Documents:
    """The live documents of this device; all reads and writes of documents pass through it."""

    def __init__(
        self, store: DocumentStore, actor: bytes, *, genesis: Genesis | None = None,
        project: Projector | None = None, cache_docs: int = DEFAULT_CACHE_DOCS,
        clock: Callable[[], float] = time.time, attestor: Attestor | None = None,
        ingest: IngestPool | None = None,
    ) -> None:
        self.store = store
        self._actor = actor
        # By default no document is derived (unknown ids are not found) and none is projected.
        self._genesis = genesis or (lambda _doc_id, _actor: None)
        self._project = project or (lambda _doc_id, _doc: None)
        self._clock = clock
        self._attestor = attestor  # signs changes made here, proves a peer's (meshd.attest)
        self._ingest = ingest or IngestPool(self._project, workers=0)  # new charts checked
        self._cache = DocCache(cache_docs)
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(doc_id, heads, origin)` after each durable change; returns unsubscribe.

        `origin` is "local" for an edit on this device, else the peer it came from. Listeners
        (sync push, UI live updates) run after the write and must be quick.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- reads -----------------------------------------------------------------------------

    async def read(
        self, doc_id: str, view: Callable[[Doc], T], audit: Sequence[AuditEvent] = ()
    ) -> T:
        """`view(doc)` of the current document (NotFound if unknown); audit rows written first."""
        async with self._cache.lock(doc_id):
            result = view((await self._load(doc_id, create=False)).doc)
        if audit:
            await self.store.write([], audit)
        return result

    async def record(self, audit: Sequence[AuditEvent]) -> None:
        """Write audit rows of an act that read no document (a search), durably."""
        await self.store.write([], audit)

    async def exists(self, doc_id: str) -> bool:
        """Whether `doc_id` is stored on this device (or cached)."""
        return doc_id in self._cache or await self.store.read(doc_id) is not None

    async def export(self, doc_id: str, audit: Sequence[AuditEvent] = ()) -> bytes:
        """The whole document as compact Automerge bytes; NotFound when unknown."""
        return await self.read(doc_id, lambda doc: doc.save(), audit)

    async def heads(self, doc_id: str) -> Heads:
        """The current heads of `doc_id`; NotFound when unknown."""
        return await self.read(doc_id, lambda doc: tuple(doc.heads()))

    # -- writes ----------------------------------------------------------------------------

    async def create(self, doc_id: str, doc: Doc, audit: Sequence[AuditEvent] = ()) -> None:
        """Store a brand-new document (e.g. a registered chart); ValidationError if it exists."""
        parse_doc_id(doc_id)
        async with self._cache.lock(doc_id):
            if doc_id in self._cache or await self.store.read(doc_id) is not None:
                raise ValidationError(f"{doc_id} already exists", field="id")
            doc.set_actor(self._actor)
            write = self._write_for(doc_id, doc, [], stored=False)
            await self.store.write([write], audit)
            self._cache.remember(doc_id, Cached(doc, stored=True))
        await self._notify([(doc_id, write.heads, LOCAL_ORIGIN)])

    async def update(
        self, doc_id: str, op: Callable[[Doc], T], audit: Sequence[AuditEvent] = (),
        *, actor: bytes | None = None,
    ) -> T:
        """Run `op(doc)` on one document, write its new changes durably, and return its result."""
        return await self.update_many([doc_id], lambda docs: op(docs[0]), audit, actor=actor)

    async def update_many(
        self, doc_ids: Sequence[str], op: Callable[[list[Doc]], T],
        audit: Sequence[AuditEvent] = (), *, actor: bytes | None = None,
    ) -> T:
        """Run `op(docs)` over several documents and write all their changes in one transaction.

        `actor` (the Automerge actor of the user) writes the changes; nothing changes if `op`
        raises. A derived document (facility, queue) starts from its genesis when new.
        """
        if len(set(doc_ids)) != len(doc_ids):
            raise ValidationError("an operation can't touch the same document twice")
        async with AsyncExitStack() as stack:
            await self._cache.lock_all(stack, doc_ids)
            entries = [await self._load(doc_id, create=True) for doc_id in doc_ids]
            before = [entry.doc.heads() for entry in entries]
            try:
                if actor is not None:
                    for entry in entries:
                        entry.doc.set_actor(actor)
                result = op([entry.doc for entry in entries])
                for doc_id, entry, old in zip(doc_ids, entries, before, strict=True):
                    if doc_id.startswith(DIRECTORY_PREFIX) and entry.doc.heads() != old:
                        check_own_change(doc_id, entry.doc, old)
            except BaseException:
                self._cache.drop_changed(doc_ids, entries, before)
                raise
            finally:
                for entry in entries:
                    if not poisoned(entry.doc):
                        entry.doc.set_actor(self._actor)
            writes = [
                self._write_for(doc_id, entry.doc, old, entry.stored)
                for doc_id, entry, old in zip(doc_ids, entries, before, strict=True)
                if entry.doc.heads() != old or not entry.stored
            ]
            try:
                await self.store.write(writes, audit)
            except BaseException:
                for doc_id in doc_ids:
                    self._cache.pop(doc_id, None)
                raise
            for entry in entries:
                entry.stored = True
        await self._notify([(write.doc_id, write.heads, LOCAL_ORIGIN) for write in writes])
        return result

    async def attest_stored(self, doc_ids: Sequence[str], attest: Attest) -> int:
        """Store the attestations `attest` gives stored `doc_ids` (meshd.attest.attest_stored)."""
        return await attest_stored(self.store, self._cache, doc_ids, attest)

    async def apply_remote(
        self, doc_id: str, chunks: bytes, origin: str = REMOTE_ORIGIN,
        attestations: Sequence[Attestation] = (),
    ) -> bool:
        """Merge change chunks (or a saved document) from a peer durably; whether any were new.

        A malformed doc id raises ValidationError and bad bytes CorruptDocument; either way
        nothing changes, in memory or on disk.
        """
        parse_doc_id(doc_id)
        result = (await self.apply_remote_many([(doc_id, chunks)], origin,
                                               {doc_id: attestations}))[0]
        if isinstance(result, CorruptDocument):
            raise result
        return result

    async def apply_remote_many(
        self, items: Sequence[tuple[str, bytes]], origin: str,
        offered: Mapping[str, Sequence[Attestation]] | None = None,
    ) -> list[ApplyResult]:
        """Merge each (doc id, chunks or saved bytes) from peer `origin`, durably, in one write.

        Per item: True if the document gained changes, False if nothing was new, or the
        CorruptDocument it raised (a malformed doc id included); a bad item changes nothing and
        never stops the others. Unknown documents are created from their bytes. `offered` are the
        peer's attestations by document, which must prove every new change (meshd.attest).
        """
        if not origin or origin == LOCAL_ORIGIN:
            raise SyncError("remote data needs the peer it came from")
        results: list[ApplyResult] = [False] * len(items)
        valid = valid_items(items, results)
        ids = {items[i][0] for i in valid}
        async with AsyncExitStack() as stack:
            await self._cache.lock_all(stack, ids)
            found = await self.store.read_many([d for d in ids if self._cache.live(d) is None])
            trials = {doc_id: await self._trial(doc_id, found) for doc_id in ids}
            check = Check(self._actor, self._attestor, offered or {})
            writes, audit, gained = await batch_writes(
                [(i, *items[i]) for i in valid], trials, check, results, origin, self._clock(),
                self._ingest, lambda d, doc, t: self._write_for(d, doc, t.base, t.stored,
                                                                t.received, t.attestations))
            cancelled = await finished(self.store.write(writes, audit)) if writes else False
            for doc_id, doc in gained:
                self._cache.remember(doc_id, Cached(doc, stored=True))
        # A batch handed to the store is also cached and announced when the session that
        # brought it ends meanwhile: else the heads index would miss documents the store holds.
        await self._notify([(write.doc_id, write.heads, origin) for write in writes])
        if cancelled:
            raise asyncio.CancelledError
        return results

    async def written_elsewhere(self, doc_ids: Sequence[str], origin: str) -> None:
        """Documents another process wrote to the store this one shares (the relay on
        PostgreSQL): reload them, rewrite their projections, tell the listeners."""
        loaded = await reload(self.store, self._cache, self._project, self._actor, doc_ids)
        await self._notify([(doc_id, tuple(doc.heads()), origin) for doc_id, doc in loaded])

    async def reproject_due(self, batch: int = REPROJECT_BATCH) -> int:
        """Reproject every document a schema upgrade marked, a batch at a time; returns how
        many (see `meshd.reprojection`)."""
        return await reproject_due(self.store, self._cache, self._project, self._actor, batch)

    async def reproject(self, doc_ids: Sequence[str]) -> int:
        """Recompute and store the projections of stored `doc_ids`; returns how many."""
        return await reproject(self.store, self._cache, self._project, self._actor, doc_ids)

    # -- internals -------------------------------------------------------------------------

    async def _load(
        self, doc_id: str, *, create: bool, found: dict[str, bytes] | None = None
    ) -> Cached:
        """The cached doc, else the stored one (in `found` when the caller read it), else (when
        `create`) its genesis; else NotFound."""
        entry = self._cache.live(doc_id)
        if entry is not None:
            return entry
        data = found.get(doc_id) if found is not None else await self.store.read(doc_id)
        if data is not None:
            entry = Cached(Doc.load(data, actor=self._actor), stored=True)
        else:
            kind, _ = parse_doc_id(doc_id)
            doc = self._genesis(doc_id, self._actor) if create or kind != CHART else None
            if doc is None:
                raise NotFound(f"no document {doc_id} on this device", field="doc_id")
            entry = Cached(doc, stored=False)
        self._cache.remember(doc_id, entry)
        return entry

    async def _trial(self, doc_id: str, found: dict[str, bytes]) -> Trial:
        """A fork of the live doc (None when unknown) for a peer's changes to be tried on."""
        try:
            entry = await self._load(doc_id, create=True, found=found)
        except NotFound:
            return Trial(None, [], False)
        return Trial(entry.doc.fork(self._actor), entry.doc.heads(), entry.stored)

    def _write_for(
        self, doc_id: str, doc: Doc, old: Sequence[bytes], stored: bool, data: bytes = b"",
        proven: Sequence[Attestation] | None = None,
    ) -> DocWrite:
        """The write of `doc`: `data` and `proven` come with a peer's changes (the whole doc as
        sent, the attestations that proved them); changes made here are signed here."""
        heads = tuple(doc.heads())
        projections = self._project(doc_id, doc)
        if proven is None and self._attestor is not None:
            proven = self._attestor.sign(doc_id, doc, old if stored else ())
        signed = tuple(proven or ())
        if not stored:
            return DocWrite(doc_id, data or doc.save(), heads, projections, True, signed)
        return DocWrite(doc_id, doc.changes_since(old), heads, projections, False, signed)

    async def _notify(self, changes: Sequence[tuple[str, Heads, str]]) -> None:
        for doc_id, heads, origin in changes:
            for listener in list(self._listeners):
                try:
                    result = listener(doc_id, heads, origin)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # a broken listener must not undo or hide a durable write
                    log.exception("document listener failed for %s", doc_id)
