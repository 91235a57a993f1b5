"""Documents: durable before acknowledged, memory matches disk, bounded cache, remote changes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from crdt_model import chart, facility
from crdt_model.adapter import Doc, actor_for
from crdt_model.context import Author
from crdt_model.errors import CorruptDocument, NotFound, StoreError, SyncError, ValidationError
from meshd.clinic import genesis_for, project
from meshd.docs import Documents
from meshd.store.base import AuditEvent, DocWrite
from meshd.store.memory import MemoryStore

DEVICE = "5f0c6a52-8d4b-4c3e-9a43-0b6f7e1d2c3a"
OTHER_DEVICE = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
FACILITY = "facility:c2b1d3e4-5f60-4718-9a2b-3c4d5e6f7081"
AUTHOR = Author(DEVICE, "nurse-1", 1_700_000_000_000)
PATIENT = {"given_name": "Ada", "family_name": "Obi", "sex": "female", "birth_date": "1980-01-01"}


class FlakyStore(MemoryStore):
    """A MemoryStore whose next write can be made to fail."""

    fail_next = False

    async def write(self, writes: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreError("disk full")
        await super().write(writes, audit)


def _documents(store: MemoryStore, device: str = DEVICE, cache_docs: int = 100) -> Documents:
    return Documents(store, actor_for(device, "system"), genesis=genesis_for(device),
                     project=project, cache_docs=cache_docs)


async def _new_chart(docs: Documents) -> str:
    patient_id = str(uuid.uuid4())
    doc = chart.register_patient(patient_id, PATIENT, AUTHOR, date(2026, 1, 1))
    await docs.create(f"chart:{patient_id}", doc)
    return f"chart:{patient_id}"


def _note(text: str, author: Author = AUTHOR) -> Any:
    return lambda doc: chart.add_note(doc, {"text": text}, author, str(uuid.uuid4()))


def _notes(doc: Doc) -> list[str]:
    return sorted(n["text"] for n in chart.chart_view(doc)["notes"])


@pytest.mark.asyncio
async def test_update_is_on_disk_before_listeners_hear_of_it() -> None:
    async with MemoryStore() as store:
        docs = _documents(store)
        doc_id = await _new_chart(docs)
        before = await docs.heads(doc_id)
        snapshot_before = await docs.export(doc_id)
        heard: list[tuple[str, tuple[bytes, ...], str, bytes | None]] = []

        async def listener(changed: str, heads: tuple[bytes, ...], origin: str) -> None:
            heard.append((changed, heads, origin, await store.read(changed)))

        docs.subscribe(listener)
        await docs.update(doc_id, _note("first"))
        stored = await store.heads(doc_id)
        assert [h[:3] for h in heard] == [(doc_id, stored[doc_id], "local")]
        # The listener already found the change on disk.
        assert _notes(Doc.load(heard[0][3] or b"")) == ["first"]
        assert before != stored[doc_id] and snapshot_before


@pytest.mark.asyncio
async def test_a_failed_write_drops_the_cached_doc_so_memory_matches_disk() -> None:
    async with FlakyStore() as store:
        docs = _documents(store)
        doc_id = await _new_chart(docs)
        store.fail_next = True
        with pytest.raises(StoreError):
            await docs.update(doc_id, _note("lost"))
        assert await docs.read(doc_id, _notes) == []
        await docs.update(doc_id, _note("kept"))
        assert await docs.read(doc_id, _notes) == ["kept"]


@pytest.mark.asyncio
async def test_a_failed_operation_changes_nothing() -> None:
    async with MemoryStore() as store:
        docs = _documents(store)
        doc_id = await _new_chart(docs)
        before = await store.heads()
        with pytest.raises(ValidationError):
            await docs.update(doc_id, lambda doc: chart.add_note(doc, {"txt": 1}, AUTHOR, "e1"))
        with pytest.raises(NotFound):
            await docs.update_many(
                [doc_id, FACILITY],
                lambda d: chart.dispense(d[0], d[1], {"prescription_id": "p", "drug_id": "x",
                                                      "quantity": 1}, AUTHOR, "e2", "l2"),
            )
        assert await store.heads() == before


@pytest.mark.asyncio
async def test_concurrent_updates_to_one_chart_all_survive() -> None:
    async with MemoryStore() as store:
        docs = _documents(store)
        doc_id = await _new_chart(docs)
        await asyncio.gather(*(docs.update(doc_id, _note(f"n{i:02}")) for i in range(20)))
        expected = [f"n{i:02}" for i in range(20)]
        assert _notes(Doc.load(await store.read(doc_id) or b"")) == expected


@pytest.mark.asyncio
async def test_the_cache_stays_bounded_and_evicted_docs_reload() -> None:
    async with MemoryStore() as store:
        docs = _documents(store, cache_docs=3)
        ids = [await _new_chart(docs) for _ in range(6)]
        for doc_id in ids:
            await docs.update(doc_id, _note(doc_id[-4:]))
        assert len(docs._cache) == 3
        for doc_id in ids:
            assert await docs.read(doc_id, _notes) == [doc_id[-4:]]


@pytest.mark.asyncio
async def test_apply_remote_takes_new_changes_once_and_refuses_garbage() -> None:
    async with MemoryStore() as mine_store, MemoryStore() as theirs_store:
        mine, theirs = _documents(mine_store), _documents(theirs_store, OTHER_DEVICE)
        doc_id = await _new_chart(mine)
        assert await theirs.apply_remote(doc_id, await mine.export(doc_id)) is True
        before = await mine.heads(doc_id)
        await theirs.update(doc_id, _note("from the lab", Author(OTHER_DEVICE, "lab-1", 2)))
        delta = await theirs.read(doc_id, lambda d: d.changes_since(list(before)))
        heard: list[tuple[str, str]] = []
        mine.subscribe(lambda changed, heads, origin: heard.append((changed, origin)))
        stored = await mine_store.heads()
        with pytest.raises(CorruptDocument):
            await mine.apply_remote(doc_id, b"\x85o\x4a\x83garbage")
        with pytest.raises(ValidationError):
            await mine.apply_remote("chart:../../etc", delta)
        assert await mine_store.heads() == stored
        assert await mine.apply_remote(doc_id, delta, origin="peer:lab") is True
        assert await mine.apply_remote(doc_id, delta, origin="peer:lab") is False
        assert heard == [(doc_id, "peer:lab")]
        assert _notes(Doc.load(await mine_store.read(doc_id) or b"")) == ["from the lab"]


@pytest.mark.asyncio
async def test_apply_remote_many_writes_a_batch_and_reports_each_item() -> None:
    async with MemoryStore() as mine_store, MemoryStore() as theirs_store:
        mine, theirs = _documents(mine_store), _documents(theirs_store, OTHER_DEVICE)
        first, second = await _new_chart(theirs), await _new_chart(theirs)
        results = await mine.apply_remote_many(
            [(first, await theirs.export(first)), ("chart:../../etc", b"x"),
             (second, b"\x85o\x4a\x83garbage"), (second, await theirs.export(second)),
             (first, await theirs.export(first)), (first, b"")],
            origin="peer:b",
        )
        assert results[0] is True and results[3] is True
        assert isinstance(results[1], CorruptDocument) and results[1].field == "doc_id"
        assert isinstance(results[2], CorruptDocument)
        assert results[4:] == [False, False]
        assert sorted(await mine_store.heads()) == sorted([first, second])
        with pytest.raises(SyncError):
            await mine.apply_remote_many([(first, b"")], "local")


@pytest.mark.asyncio
async def test_garbage_alone_changes_nothing_in_memory_or_on_disk() -> None:
    async with MemoryStore() as store:
        docs = _documents(store)
        doc_id = await _new_chart(docs)
        await docs.update(doc_id, _note("kept"))
        stored = await store.heads()
        results = await docs.apply_remote_many([(doc_id, b"\x00" * 64), (doc_id, b"\x85o")], "p")
        assert all(isinstance(r, CorruptDocument) for r in results)
        assert await store.heads() == stored
        assert await docs.read(doc_id, _notes) == ["kept"]


@pytest.mark.asyncio
async def test_derived_docs_start_from_the_same_genesis_on_every_device() -> None:
    async with MemoryStore() as a_store, MemoryStore() as b_store:
        a, b = _documents(a_store), _documents(b_store, OTHER_DEVICE)

        def add(drug: str, author: Author) -> Any:
            return lambda doc: facility.add_drug(doc, drug, {"name": drug}, author)

        await a.update(FACILITY, add("amox", AUTHOR))
        await b.update(FACILITY, add("para", Author(OTHER_DEVICE, "nurse-2", 1)))
        assert await a.apply_remote(FACILITY, await b.export(FACILITY), "peer:b") is True
        assert sorted(await a.read(FACILITY, facility.drug_catalogue)) == ["amox", "para"]
        assert sorted(await a_store.stock_levels(FACILITY)) == ["amox", "para"]


@pytest.mark.asyncio
async def test_a_large_remote_batch_lets_the_event_loop_run_and_is_stored_in_one_write() -> None:
    from meshd.remote_changes import MERGE_SLICE_DOCS

    writes: list[int] = []

    class CountingStore(MemoryStore):
        async def write(self, batch: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
            writes.append(len(batch))
            await super().write(batch, audit)

    async with CountingStore() as mine_store, MemoryStore() as theirs_store:
        mine, theirs = _documents(mine_store), _documents(theirs_store, OTHER_DEVICE)
        ids = [await _new_chart(theirs) for _ in range(MERGE_SLICE_DOCS * 2 + 1)]
        items = [(doc_id, await theirs.export(doc_id)) for doc_id in ids]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        results = await mine.apply_remote_many(items, origin="peer:b")
        task.cancel()
        assert results == [True] * len(ids)
        assert ticks - before >= 4  # the loop ran between slices, not only around the write
        assert writes == [len(ids)]  # one durable write for the whole batch
        assert sorted(await mine_store.heads()) == sorted(ids)


@pytest.mark.asyncio
async def test_a_remote_batch_whose_session_ends_during_the_write_is_still_cached_and_heard() -> (
        None):
    release = asyncio.Event()
    writing = asyncio.Event()

    class SlowStore(MemoryStore):
        async def write(self, batch: Sequence[DocWrite], audit: Sequence[AuditEvent] = ()) -> None:
            writing.set()
            await release.wait()
            await super().write(batch, audit)

    async with SlowStore() as mine_store, MemoryStore() as theirs_store:
        mine, theirs = _documents(mine_store), _documents(theirs_store, OTHER_DEVICE)
        doc_id = await _new_chart(theirs)
        heard: list[str] = []
        mine.subscribe(lambda d, heads, origin: heard.append(d))
        task = asyncio.create_task(
            mine.apply_remote_many([(doc_id, await theirs.export(doc_id))], origin="peer:b"))
        await writing.wait()
        task.cancel()  # the session ends while the store commits the batch
        await asyncio.sleep(0)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert doc_id in await mine_store.heads()
        assert heard == [doc_id]  # the heads index hears of it like any stored document
        assert await mine.read(doc_id, lambda d: d.heads()) == await theirs.read(
            doc_id, lambda d: d.heads())


@pytest.mark.asyncio
async def test_a_change_written_elsewhere_is_reloaded_reprojected_and_announced() -> None:
    """Two Documents on one store (two relay processes on one database): what one writes, the
    other serves after `written_elsewhere`, with projections and a listener call."""
    async with MemoryStore() as store:
        here, elsewhere = _documents(store), _documents(store, OTHER_DEVICE)
        doc_id = await _new_chart(here)
        assert _notes(await elsewhere.read(doc_id, lambda d: d)) == []  # now cached there
        await here.update(doc_id, _note("written by the other process"))
        heard: list[tuple[str, str]] = []
        elsewhere.subscribe(lambda d, heads, origin: heard.append((d, origin)))
        await elsewhere.written_elsewhere([doc_id], "relay-db")
        assert await elsewhere.read(doc_id, _notes) == ["written by the other process"]
        assert heard == [(doc_id, "relay-db")]
        assert await store.search_patients("Obi")
