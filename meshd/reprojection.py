"""Recomputing stored documents' projection rows after a schema upgrade added new ones.

Meant to run in the background after start-up: the marks are in the store, so an interrupted
run simply goes on at the next start. Each batch is read from the store under the documents'
locks, so no write can slip between the read and the new rows; the work runs in a thread, off
the event loop, and nothing is added to the cache. `reload` does the same for documents
another process wrote to a shared store (the relay on PostgreSQL), and does cache them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

from crdt_model.adapter import Doc
from meshd.doc_cache import Cached, DocCache
from meshd.store.base import DocumentStore, DocWrite, Projections

log = logging.getLogger(__name__)

# Documents reprojected per transaction: short lock holds, few fsyncs.
REPROJECT_BATCH = 100

Projector = Callable[[str, Doc], "Projections | None"]


async def reproject_due(store: DocumentStore, cache: DocCache, project: Projector, actor: bytes,
                        batch: int = REPROJECT_BATCH) -> int:
    """Reproject every document the store marked, a batch at a time; returns how many."""
    after, done = "", 0
    while ids := await store.reprojection_due(after, batch):
        done += await reproject(store, cache, project, actor, ids)
        after = ids[-1]
    return done


async def reproject(store: DocumentStore, cache: DocCache, project: Projector, actor: bytes,
                    doc_ids: Sequence[str]) -> int:
    """Recompute and store the projections of stored `doc_ids`; returns how many."""
    async with AsyncExitStack() as stack:
        await cache.lock_all(stack, doc_ids)
        stored = await store.read_many(list(doc_ids))
        writes = await asyncio.to_thread(_reprojections, stored, project, actor)
        if writes:
            await store.write(writes)
    return len(writes)


async def reload(store: DocumentStore, cache: DocCache, project: Projector, actor: bytes,
                 doc_ids: Sequence[str]) -> list[tuple[str, Doc]]:
    """Load `doc_ids` afresh from the store (another process wrote them), store their
    projections and keep them cached, each from one load; the (doc id, doc) loaded."""
    async with AsyncExitStack() as stack:
        await cache.lock_all(stack, doc_ids)
        stored = await store.read_many(list(doc_ids))
        loaded: list[tuple[str, Doc]] = []
        writes = await asyncio.to_thread(_reprojections, stored, project, actor, loaded)
        if writes:
            await store.write(writes)
        for doc_id in doc_ids:
            cache.pop(doc_id, None)
        for doc_id, doc in loaded:
            cache.remember(doc_id, Cached(doc, stored=True))
    return loaded


def _reprojections(stored: dict[str, bytes], project: Projector, actor: bytes,
                   loaded: list[tuple[str, Doc]] | None = None) -> list[DocWrite]:
    writes = []
    for doc_id, data in stored.items():
        try:
            doc = Doc.load(data, actor=actor)
            projections = project(doc_id, doc) or Projections()
        except Exception:  # a damaged document keeps its old rows; integrity_check reports it
            log.exception("cannot reproject %s", doc_id)
            continue
        writes.append(DocWrite(doc_id, b"", tuple(doc.heads()), projections))
        if loaded is not None:
            loaded.append((doc_id, doc))
    return writes
