"""Charts streamed out of a store a page at a time, so memory does not grow with their number.

Pages follow the first two hex digits of the chart UUIDs (256 prefix ranges on the store's
sorted ids), so not even the list of ids is held whole; each page's documents come in one
`read_many`. A document that fails to load is counted and skipped, never the end of an export.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError, NotFound
from crdt_model.ids import CHART, chart_id
from meshd.exports.chart_read import Chart, Local, read_chart
from meshd.store.base import Store

READ_BATCH = 100
PREFIXES = tuple(f"{i:02x}" for i in range(256))
Progress = Callable[[int, int], None]


@dataclass
class StreamCount:
    """How many charts were read, and which documents could not be."""

    read: int = 0
    unreadable: int = 0


def _load(data: bytes) -> dict[str, object] | None:
    try:
        return Doc.load(data).to_dict()
    except ClinicMeshError:  # the adapter turns a Rust panic into CorruptDocument too
        return None


async def _pages(store: Store, patient: str | None) -> AsyncIterator[list[str]]:
    if patient is not None:
        yield [chart_id(patient)]
        return
    for prefix in PREFIXES:
        ids = await store.doc_ids(f"{CHART}:{prefix}")
        for start in range(0, len(ids), READ_BATCH):
            yield ids[start:start + READ_BATCH]


async def _fetched(
    store: Store, pages: AsyncIterator[list[str]]
) -> AsyncIterator[tuple[list[str], dict[str, bytes]]]:
    """Each page with its documents; the next page is read (in the store's reader thread)
    while this one is converted, so reading and converting overlap on two cores."""
    ahead: tuple[list[str], asyncio.Task[dict[str, bytes]]] | None = None
    try:
        async for page in pages:
            task = asyncio.create_task(store.read_many(page))
            if ahead is not None:
                yield ahead[0], await ahead[1]
            ahead = (page, task)
        if ahead is not None:
            yield ahead[0], await ahead[1]
            ahead = None
    finally:
        if ahead is not None:
            ahead[1].cancel()


async def charts(
    store: Store, local: Local, count: StreamCount, *, patient: str | None = None,
    progress: Progress | None = None,
) -> AsyncIterator[Chart]:
    """Every chart of `store` (or the one of `patient`), in doc id order."""
    total = 1 if patient is not None else await store.count(f"{CHART}:")
    if patient is not None and await store.read(chart_id(patient)) is None:
        raise NotFound(f"no chart of patient {patient} on this device", field="patient")
    async for page, found in _fetched(store, _pages(store, patient)):
        for doc_id in page:
            root = _load(found[doc_id]) if doc_id in found else None
            chart = read_chart(root, local) if root is not None else None
            if chart is None:
                count.unreadable += doc_id in found
                continue
            count.read += 1
            yield chart
        del found
        if progress is not None:
            progress(count.read + count.unreadable, total)
