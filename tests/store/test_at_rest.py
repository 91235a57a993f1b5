"""At rest: nothing readable without the key, and a wrong key or a damaged file changes nothing."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from store_helpers import TEST_KEY, new_chart

from crdt_model.adapter import Doc
from crdt_model.errors import StoreError
from meshd.store.sqlcipher import SqlCipherStore

WRONG_KEY = bytes(32)
NAME = ("Zawadi", "Mwangangi")


def _files(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of `directory` with its bytes and mtime."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def _clear_bytes_found(data: bytes) -> list[bytes]:
    needles = [n.encode() for n in NAME] + [n.lower().encode() for n in NAME]
    needles += [n.encode("utf-16-le") for n in NAME]
    return [n for n in needles if n in data]


@pytest.mark.asyncio
async def test_the_database_and_its_wal_hold_no_name_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with SqlCipherStore(path, TEST_KEY) as store:
        await store.write([new_chart(*NAME, village="Kitui")[1]])
        assert (tmp_path / "store.db-wal").stat().st_size > 0
        for name, (data, _) in _files(tmp_path).items():
            assert _clear_bytes_found(data) == [], name
        assert len(await store.search_patients("zawadi")) == 1
    assert _clear_bytes_found(path.read_bytes()) == []


@pytest.mark.asyncio
async def test_plain_sqlite_cannot_read_the_store(tmp_path: Path) -> None:
    async with SqlCipherStore(tmp_path / "store.db", TEST_KEY) as store:
        await store.write([new_chart(*NAME)[1]])
    conn = sqlite3.connect(tmp_path / "store.db")
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("SELECT * FROM sqlite_master").fetchall()
    conn.close()


@pytest.mark.asyncio
async def test_a_wrong_key_fails_clearly_and_changes_no_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    live.mkdir()
    crashed.mkdir()
    doc, write = new_chart(*NAME)
    async with SqlCipherStore(live / "store.db", TEST_KEY) as store:
        await store.write([write])
        # A copy taken while the store is open looks like a store after a crash: db + wal.
        for name in ("store.db", "store.db-wal"):
            shutil.copy2(live / name, crashed / name)
    for directory in (live, crashed):
        before = _files(directory)
        with pytest.raises(StoreError, match="wrong key") as failure:
            await SqlCipherStore(directory / "store.db", WRONG_KEY).start()
        assert "nothing was changed" in str(failure.value)
        assert _files(directory) == before
    assert capfd.readouterr().err == ""  # SQLCipher's own error log stays quiet
    async with SqlCipherStore(crashed / "store.db", TEST_KEY) as recovered:
        assert Doc.load(await recovered.read(write.doc_id)).to_dict() == doc.to_dict()


@pytest.mark.asyncio
async def test_a_file_that_is_not_a_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"these are the minutes of the clinic meeting\n" * 200)
    before = _files(tmp_path)
    with pytest.raises(StoreError):
        await SqlCipherStore(path, TEST_KEY).start()
    assert _files(tmp_path) == before


@pytest.mark.asyncio
async def test_a_damaged_store_gives_a_store_error_or_a_failed_check(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    doc_ids = []
    async with SqlCipherStore(path, TEST_KEY) as store:
        for i in range(10):
            batch = [new_chart(f"Patient{i}", "X", note="n" * 2000)[1] for _ in range(20)]
            doc_ids += [w.doc_id for w in batch]
            await store.write(batch)
    size = path.stat().st_size
    with path.open("r+b") as damaged:
        damaged.seek(size // 2)
        damaged.write(b"\xde\xad" * 4096)
    try:
        async with SqlCipherStore(path, TEST_KEY) as store:
            problems = await store.integrity_check()
            assert problems
            for doc_id in doc_ids:  # a damaged page is a StoreError, never a crash
                with contextlib.suppress(StoreError):
                    await store.read(doc_id)
            with contextlib.suppress(StoreError):
                await store.search_patients("patient")
    except StoreError as exc:
        assert "store" in str(exc)
