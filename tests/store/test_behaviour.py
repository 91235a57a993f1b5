"""Behaviour every Store must have: run against MemoryStore and SqlCipherStore alike."""

from __future__ import annotations

from typing import Any

import pytest
from store_helpers import add_note, new_chart

from crdt_model.adapter import Doc
from crdt_model.errors import StoreError
from meshd.store.base import AuditEvent, DocWrite, Projections, QueueRow, StockRow


@pytest.mark.asyncio
async def test_a_written_chart_reads_back_and_loads(store: Any) -> None:
    doc, write = new_chart("Amina", "Ochieng")
    await store.write([write])
    data = await store.read(write.doc_id)
    assert data is not None
    assert Doc.load(data).to_dict() == doc.to_dict()
    assert await store.read("chart:unknown") is None


@pytest.mark.asyncio
async def test_appended_chunks_read_back_as_one_loadable_document(store: Any) -> None:
    doc, write = new_chart()
    await store.write([write])
    for i in range(5):
        await store.write([add_note(doc, write.doc_id, f"note {i}")])
    data = await store.read(write.doc_id)
    assert data is not None
    loaded = Doc.load(data)
    assert loaded.to_dict() == doc.to_dict()
    assert loaded.heads() == doc.heads()
    assert (await store.heads("chart:"))[write.doc_id] == tuple(doc.heads())


@pytest.mark.asyncio
async def test_first_write_of_bare_change_chunks_is_loadable(store: Any) -> None:
    doc = Doc.new(b"\x01" * 16)
    doc.change(lambda tx: tx.put((), "name", "queue"))
    write = DocWrite("queue:f1:2026-11-22", doc.changes_since([]), tuple(doc.heads()))
    await store.write([write])
    data = await store.read(write.doc_id)
    assert Doc.load(data).to_dict() == {"name": "queue"}


@pytest.mark.asyncio
async def test_a_multi_document_write_is_all_or_nothing(store: Any) -> None:
    _, good = new_chart("Good", "Write")
    broken = DocWrite("chart:broken", None, ())  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        await store.write([good, broken])
    assert await store.read(good.doc_id) is None
    assert await store.search_patients("good") == []
    await store.write([good])
    assert await store.read(good.doc_id) is not None


@pytest.mark.asyncio
async def test_compaction_keeps_every_change(store: Any) -> None:
    doc, write = new_chart()
    await store.write([write])
    for i in range(10):
        await store.write([add_note(doc, write.doc_id, f"note {i}")])
    assert await store.compact(write.doc_id) is True
    assert await store.compact(write.doc_id) is False
    await store.write([add_note(doc, write.doc_id, "after compaction")])
    loaded = Doc.load(await store.read(write.doc_id))
    assert loaded.to_dict() == doc.to_dict()
    assert await store.integrity_check() == []


@pytest.mark.asyncio
async def test_doc_ids_count_heads_and_read_many_filter_by_prefix(store: Any) -> None:
    writes = [new_chart(f"P{i}", "X")[1] for i in range(3)]
    other = DocWrite("facility:f1", Doc.new(b"\x02" * 16).save(), ())
    await store.write([*writes, other])
    assert await store.count() == 4
    assert await store.count("chart:") == 3
    assert await store.doc_ids("chart:") == sorted(w.doc_id for w in writes)
    assert set(await store.heads("facility:")) == {"facility:f1"}
    wanted = [writes[0].doc_id, "chart:missing", other.doc_id]
    many = await store.read_many(wanted)
    assert set(many) == {writes[0].doc_id, other.doc_id}
    assert many[writes[0].doc_id] == await store.read(writes[0].doc_id)


SEARCH_PEOPLE = [
    {"given": "Amina", "family": "Ochieng", "phone": "+254 712 345 678", "village": "Kisumu"},
    {"given": "José", "family": "Núñez", "phone": "0799 000 111", "village": "Bondo",
     "national_id": "KE-1234-5678"},
    {"given": "Amani", "family": "Otieno", "phone": None, "village": "Siaya"},
]


async def _people(store: Any) -> dict[str, str]:
    ids = {}
    for person in SEARCH_PEOPLE:
        extra = {k: v for k, v in person.items() if k not in ("given", "family") and v}
        _, write = new_chart(person["given"], person["family"], **extra)
        await store.write([write])
        ids[person["given"]] = write.doc_id
    return ids


async def _found(store: Any, query: str) -> set[str]:
    return {row["given_name"] for row in await store.search_patients(query)}


@pytest.mark.asyncio
async def test_search_finds_patients_by_name_prefix_phone_ids_and_village(store: Any) -> None:
    ids = await _people(store)
    assert await _found(store, "am") == {"Amina", "Amani"}
    assert await _found(store, "amina och") == {"Amina"}
    assert await _found(store, "OCHIENG") == {"Amina"}
    assert await _found(store, "nunez") == {"José"}
    assert await _found(store, "Jose NÚÑ") == {"José"}
    assert await _found(store, "0712345678") == {"Amina"}
    assert await _found(store, "254712") == {"Amina"}
    assert await _found(store, "0712 345 678") == {"Amina"}
    assert await _found(store, "+254 (712) 345-678") == {"Amina"}
    assert await _found(store, "KE-1234-5678") == {"José"}
    assert await _found(store, "ke12345678") == {"José"}
    assert await _found(store, "siaya") == {"Amani"}
    assert await _found(store, ids["Amani"].removeprefix("chart:")) == {"Amani"}
    assert await _found(store, "nobody") == set()
    assert await _found(store, "  ") == set()
    assert await _found(store, '"; DROP TABLE patients; --') == set()


@pytest.mark.asyncio
async def test_search_rows_carry_the_projected_fields(store: Any) -> None:
    await _people(store)
    [row] = await store.search_patients("nunez")
    assert row["village"] == "Bondo"
    assert row["national_id"] == "KE-1234-5678"
    assert row["merged_into"] is None
    assert row["doc_id"] == f"chart:{row['id']}"
    assert len(await store.search_patients("am", limit=1)) == 1


@pytest.mark.asyncio
async def test_a_new_projection_replaces_the_old_row(store: Any) -> None:
    doc, write = new_chart("Amina", "Ochieng")
    await store.write([write])
    row = dict(write.projections.patient)
    row.update(family_name="Wanjiru", merged_into="chart:other")
    await store.write([DocWrite(write.doc_id, b"", write.heads, Projections(patient=row))])
    assert await _found(store, "ochieng") == set()
    [found] = await store.search_patients("wanjiru")
    assert found["merged_into"] == "chart:other"
    assert Doc.load(await store.read(write.doc_id)).to_dict() == doc.to_dict()


@pytest.mark.asyncio
async def test_merged_patients_come_after_the_others(store: Any) -> None:
    for i, merged in enumerate(["chart:x", None, "chart:y", None]):
        _, write = new_chart("Baraka", f"Kip{i}", merged_into=merged)
        await store.write([write])
    rows = await store.search_patients("baraka")
    assert [r["merged_into"] is None for r in rows] == [True, True, False, False]


@pytest.mark.asyncio
async def test_queue_rows_and_stock_levels_are_projected(store: Any) -> None:
    queue = [
        {"entry_id": "e1", "patient_id": "p1", "station": "triage", "since_ms": 5,
         "enqueued_ms": 1},
        {"entry_id": "e2", "patient_id": "p2", "station": "lab", "since_ms": 6, "enqueued_ms": 2},
    ]
    rows = [QueueRow("e1", "p1", "triage", 5, 1), QueueRow("e2", "p2", "lab", 6, 2)]
    stock = {"amoxicillin": {"name": "Amoxicillin", "level": 120, "negative": False},
             "ors": {"name": "ORS", "level": -2, "negative": True}}
    levels = {"amoxicillin": StockRow("Amoxicillin", 120, False), "ors": StockRow("ORS", -2, True)}
    await store.write([
        DocWrite("queue:f1:2026-11-22", b"\x00", (), Projections(queue=queue)),
        DocWrite("facility:f1", b"\x00", (), Projections(stock=stock)),
    ])
    assert await store.queue_rows("queue:f1:2026-11-22") == rows
    assert await store.stock_levels("facility:f1") == levels
    await store.write([DocWrite("queue:f1:2026-11-22", b"", (), Projections(queue=queue[1:]))])
    assert await store.queue_rows("queue:f1:2026-11-22") == rows[1:]
    assert await store.queue_rows("queue:none") == []
    assert await store.stock_levels("facility:none") == {}


@pytest.mark.asyncio
async def test_audit_events_are_kept_newest_first(store: Any) -> None:
    _, write = new_chart()
    events = [
        AuditEvent(1000, "nurse1", "write", write.doc_id, "ui"),
        AuditEvent(3000, "doc1", "read", write.doc_id, "api", "opened chart"),
        AuditEvent(2000, "lab1", "read", "chart:other", "ui"),
    ]
    await store.write([write], events[:2])
    await store.write([], events[2:])
    latest = await store.audit_events()
    assert [e.at_ms for e in latest] == [3000, 2000, 1000]
    assert latest[0] == AuditEvent(3000, "doc1", "read", write.doc_id, "api", "opened chart")
    assert [e.user for e in await store.audit_events(write.doc_id)] == ["doc1", "nurse1"]
    assert len(await store.audit_events(limit=1)) == 1


@pytest.mark.asyncio
async def test_a_stopped_store_refuses_work_and_stops_twice(store: Any) -> None:
    await store.stop()
    await store.stop()
    with pytest.raises(StoreError):
        await store.read("chart:x")
    await store.start()
    assert await store.count() == 0
