"""A store killed while SQLite copied its WAL into the main file (a checkpoint) opens again with
everything: the main file alone is inconsistent then, the main file with its WAL is not."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from store_helpers import TEST_KEY

from crdt_model.adapter import Doc
from crdt_model.errors import StoreError
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore

PAGE_BYTES = 4096  # SQLCipher 4's page size


def _copy_pair(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    shutil.copyfile(f"{source}-wal", f"{target}-wal")


def _wal_bytes(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


@pytest.mark.asyncio
async def test_a_store_killed_mid_checkpoint_opens_with_every_write(tmp_path: Path) -> None:
    docs = {}
    (tmp_path / "live").mkdir()
    async with SqlCipherStore(tmp_path / "live" / "store.db", TEST_KEY) as store:
        for i in range(40):
            doc = Doc.new(bytes([i + 1]) * 16)
            doc.change(lambda tx, i=i: tx.put((), "n", i))
            docs[f"chart:{i:032x}"] = doc
        await store.write([DocWrite(d, doc.save(), tuple(doc.heads()), snapshot=True)
                           for d, doc in docs.items()])
        # As a SIGKILL leaves it: the writes are in the WAL, not yet in the main file.
        _copy_pair(tmp_path / "live" / "store.db", tmp_path / "torn" / "store.db")
    # What a finished checkpoint writes into the main file; a torn one wrote page 1 only.
    _copy_pair(tmp_path / "torn" / "store.db", tmp_path / "done" / "store.db")
    async with SqlCipherStore(tmp_path / "done" / "store.db", TEST_KEY):
        pass
    torn = tmp_path / "torn" / "store.db"
    with torn.open("r+b") as main, (tmp_path / "done" / "store.db").open("rb") as done:
        main.write(done.read(PAGE_BYTES))

    with pytest.raises(StoreError, match="wrong key"):
        async with SqlCipherStore(torn, b"\x01" * 32):
            pass
    assert _wal_bytes(torn) > 0  # a wrong key left the WAL alone
    async with SqlCipherStore(torn, TEST_KEY) as store:
        assert await store.integrity_check() == []
        stored = await store.read_many(sorted(docs))
        assert {d: Doc.load(b).heads() for d, b in stored.items()} == {
            d: doc.heads() for d, doc in docs.items()}
