"""SqlCipherStore specifics: lifecycle, threads, background compaction, the loop stays free."""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import sqlcipher3
from store_helpers import TEST_KEY, add_note, new_chart

from crdt_model.adapter import Doc
from crdt_model.errors import StoreError
from meshd.store.base import DocWrite, Projections, WorklistRow
from meshd.store.queries import HEADS_SQL
from meshd.store.schema import MIGRATIONS
from meshd.store.sqlcipher import SqlCipherStore


def _store_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("store-")]


def _raw(path: Path) -> sqlcipher3.Connection:
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{TEST_KEY.hex()}'\"")
    return conn


@pytest.mark.asyncio
async def test_data_survives_reopening_and_stop_leaves_no_thread(tmp_path: Path) -> None:
    doc, write = new_chart("Wanjiru", "Kamau")
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        assert store.started.is_set()
        await store.write([write])
        assert _store_threads()
    assert _store_threads() == []
    await store.stop()
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY, create=False) as again:
        assert Doc.load(await again.read(write.doc_id)).to_dict() == doc.to_dict()
        assert [r["family_name"] for r in await again.search_patients("kamau")] == ["Kamau"]
    assert oct((tmp_path / "s.db").stat().st_mode & 0o777) == "0o600"


@pytest.mark.asyncio
async def test_opening_a_missing_store_without_create_fails(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store"):
        await SqlCipherStore(tmp_path / "none.db", TEST_KEY, create=False).start()
    assert not (tmp_path / "none.db").exists()


@pytest.mark.asyncio
async def test_a_store_from_a_newer_meshd_is_refused(tmp_path: Path) -> None:
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY):
        pass
    conn = _raw(tmp_path / "s.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer meshd"):
        await SqlCipherStore(tmp_path / "s.db", TEST_KEY).start()
    assert _store_threads() == []


@pytest.mark.asyncio
async def test_background_compaction_folds_chunks_while_writes_continue(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    doc, write = new_chart()
    async with SqlCipherStore(path, TEST_KEY, compact_after=3) as store:
        await store.write([write])
        # Submitted together: the writer batches them and compacts between batches.
        notes = [add_note(doc, write.doc_id, f"note {i}") for i in range(60)]
        await asyncio.gather(*(store.write([n]) for n in notes))
        await store.write([add_note(doc, write.doc_id, "last")])
        loaded = Doc.load(await store.read(write.doc_id))
        assert loaded.to_dict() == doc.to_dict()
        assert loaded.heads() == doc.heads()
        assert await store.integrity_check() == []
    conn = _raw(path)
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    conn.close()
    assert chunks <= 3  # 62 chunks were written: compaction ran


@pytest.mark.asyncio
async def test_the_event_loop_keeps_ticking_during_a_big_write(tmp_path: Path) -> None:
    writes = []
    for i in range(200):
        _, w = new_chart(f"Big{i}", "Write")
        writes.append(DocWrite(w.doc_id, w.data + os.urandom(50_000), w.heads, w.projections))
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        task = asyncio.create_task(ticker())
        started = asyncio.get_running_loop().time()
        await store.write(writes)
        elapsed = asyncio.get_running_loop().time() - started
        done.set()
        await task
    assert len(gaps) >= 5, f"write took {elapsed:.3f}s, the loop ticked {len(gaps)} times"
    assert max(gaps) < 0.5  # generous on a shared machine; a blocked loop would tick once


@pytest.mark.asyncio
async def test_a_failed_write_leaves_the_store_usable(tmp_path: Path) -> None:
    _, good = new_chart()
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        with pytest.raises(StoreError):
            await store.write([DocWrite("chart:x", None, ())])  # type: ignore[arg-type]
        await store.write([good])
        assert await store.count() == 1


@pytest.mark.asyncio
async def test_reads_during_compaction_always_see_every_acknowledged_change(
    tmp_path: Path,
) -> None:
    doc, write = new_chart()
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY, compact_after=2) as store:
        await store.write([write])
        acked = set(write.heads)
        for i in range(40):
            note = add_note(doc, write.doc_id, f"note {i}")
            pending = asyncio.ensure_future(store.write([note]))
            seen_before = set(acked)
            data = await store.read(write.doc_id)
            have = {info.hash for info in Doc.load(data).history()}
            assert seen_before <= have
            await pending
            acked |= set(note.heads)
        assert acked <= {info.hash for info in Doc.load(await store.read(write.doc_id)).history()}


@pytest.mark.asyncio
async def test_a_document_that_does_not_load_is_reported_and_the_store_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doc, good = new_chart()
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY, compact_after=1) as store:
        await store.write([DocWrite("chart:garbage", b"not automerge", (), snapshot=True)])
        for _ in range(3):  # enough chunks to ask for a compaction, which must fail politely
            await store.write([DocWrite("chart:garbage", b"more garbage", ())])
        await store.write([good])
        await store.write([add_note(doc, good.doc_id, "still working")])
        assert Doc.load(await store.read(good.doc_id)).to_dict() == doc.to_dict()
        assert await store.read("chart:garbage") == b"not automerge" + b"more garbage" * 3
        problems = await store.integrity_check()
        assert len(problems) == 1 and problems[0].startswith("chart:garbage")
    assert "not compacting chart:garbage" in caplog.text


@pytest.mark.asyncio
async def test_an_empty_file_left_by_an_interrupted_creation_becomes_a_store(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.db").touch()
    _, write = new_chart()
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        await store.write([write])
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        assert await store.count() == 1


@pytest.mark.asyncio
async def test_integrity_check_on_a_busy_reader_sees_a_sound_search_index(tmp_path: Path) -> None:
    # SQLite 3.53's FTS5 check compares against a reader's cached index structure; without a
    # refresh it reported a checksum mismatch on a sound store once patient rows were rewritten.
    charts = [new_chart("Amina", "Otieno") for _ in range(20)]
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY, readers=1) as store:
        for round_ in range(120):
            _, write = charts[(round_ * 7) % len(charts)]
            row = {**(write.projections.patient or {}), "given_name": ("Amina", "Juma")[round_ % 2],
                   "phone": ("+254712345678", None)[round_ % 3 % 2]}
            await store.write([replace(write, projections=Projections(patient=row))])
            if round_ % 7 == 0:
                assert await store.search_patients("otieno")
            if round_ % 30 == 0:
                assert await store.integrity_check() == []


@pytest.mark.asyncio
async def test_reading_every_documents_heads_uses_only_the_covering_index(tmp_path: Path) -> None:
    # Sync reads all heads at start-up: walking the snapshots instead made a 50,000-chart start
    # half a second slower.
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        await store.write([new_chart()[1]])
    conn = _raw(tmp_path / "s.db")
    plan = conn.execute(f"EXPLAIN QUERY PLAN {HEADS_SQL}", ("", "\uffff")).fetchall()
    conn.close()
    shown = " ".join(str(step) for step in plan)
    assert "COVERING INDEX documents_recent" in shown and "TEMP B-TREE" not in shown


@pytest.mark.asyncio
async def test_a_chart_keeps_one_row_per_worklist_item_read_in_order_from_an_index(
        tmp_path: Path) -> None:
    _, write = new_chart()
    again = {"drug": "Paracetamol", "n": 2}
    rows = (WorklistRow("prescription", "p1", 20, {"drug": "Paracetamol", "n": 1}),
            WorklistRow("prescription", "p1", 20, again),
            WorklistRow("prescription", "p0", 10, {"drug": "ORS"}))
    async with SqlCipherStore(tmp_path / "s.db", TEST_KEY) as store:
        await store.write([replace(write, projections=replace(write.projections,
                                                              worklists=rows))])
        found = await store.worklist("prescription")
        await store.write([replace(write, projections=Projections(patient=None))])
        assert await store.worklist("prescription") == []
    assert [(e.key, e.sort_key, e.row) for e in found] == [("p0", 10, {"drug": "ORS"}),
                                                          ("p1", 20, again)]
    conn = _raw(tmp_path / "s.db")
    # The statement of meshd.store.queries.worklist with a lower bound.
    plan = conn.execute("EXPLAIN QUERY PLAN SELECT doc_id, key, sort_key, row FROM worklist_rows"
                        " WHERE kind = ? AND sort_key >= ? ORDER BY sort_key, doc_id, key"
                        " LIMIT ?", ("prescription", 0, 10)).fetchall()
    conn.close()
    shown = " ".join(str(step) for step in plan)
    assert "INDEX worklist_by_sort" in shown and "TEMP B-TREE" not in shown


@pytest.mark.asyncio
async def test_worklist_rows_of_a_store_before_schema_8_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = _raw(path)  # a store as meshd left it at schema 7
    for script in MIGRATIONS[:7]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 7")
    conn.executemany("INSERT INTO worklist_rows (kind, doc_id, key, sort_key, row)"
                     " VALUES (?, ?, ?, ?, ?)",
                     [("visit", "chart:b", "2025-11-22", "2025-11-22", '{"n": 2}'),
                      ("visit", "chart:a", "2025-11-21", "2025-11-21", '{"n": 1}'),
                      ("lab_order", "chart:a", "o1", 5, '{"n": 3}')])
    conn.close()
    async with SqlCipherStore(path, TEST_KEY) as store:
        visits = await store.worklist("visit")
        orders = await store.worklist("lab_order")
        await store.write([replace(new_chart()[1], doc_id="chart:a", projections=Projections(
            worklists=(WorklistRow("visit", "2025-11-21", "2025-11-21", {"n": 4}),)))])
        again = await store.worklist("visit")
    assert [(e.doc_id, e.key, e.row) for e in visits] == [
        ("chart:a", "2025-11-21", {"n": 1}), ("chart:b", "2025-11-22", {"n": 2})]
    assert [(e.doc_id, e.sort_key, e.row) for e in orders] == [("chart:a", 5, {"n": 3})]
    assert [(e.doc_id, e.row) for e in again] == [("chart:a", {"n": 4}), ("chart:b", {"n": 2})]
