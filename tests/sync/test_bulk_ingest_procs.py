"""A bulk initial sync between real `meshd` processes (batches checked in worker processes,
read ahead while earlier ones commit): what the receiver reported stored survives its SIGKILL
(its workers end with it), and once the sync completes both stores hold identical heads and
projections."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually
from sync_procs import MeshdProcess, make_mesh, seed_charts

from meshd import identity
from meshd.store.sqlcipher import SqlCipherStore

pytestmark = pytest.mark.slow

CHARTS = 1500
PHONES = [f"+254700{i:06d}" for i in range(0, CHARTS, 97)]  # as seed_charts numbers them


def _count(node: MeshdProcess) -> int:
    return int(node.sync_status()["documents"]["count"])


def _children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (the node's ingest workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def _contents(data: identity.DataDir) -> dict[str, Any]:
    """Heads of every document, the search rows of some patients, and integrity problems."""

    async def read() -> dict[str, Any]:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data)) as store:
            return {"heads": await store.heads(),
                    "rows": [await store.search_patients(p) for p in PHONES],
                    "problems": await store.integrity_check()}

    return asyncio.run(read())


def test_a_receiver_killed_mid_bulk_sync_keeps_what_it_reported_and_ends_identical(
    tmp_path: Path, procs: list[MeshdProcess]
) -> None:
    full_dir, empty_dir = make_mesh(tmp_path, 2)
    seed_charts(full_dir, CHARTS)
    full = MeshdProcess(full_dir).start([])
    procs.append(full)
    expected = _count(full)
    empty = MeshdProcess(empty_dir).start([full.peer_address])
    procs.append(empty)
    # The count is the heads index, which hears of a batch only once it is committed.
    reported = eventually(lambda: (n := _count(empty)) > CHARTS // 4 and n, 60,
                          "a quarter of the charts stored")
    assert reported < expected, "the sync ended before the kill: nothing was tested"
    assert empty.process is not None
    workers = _children(empty.process.pid)
    assert workers, "no ingest worker was running"
    empty.kill()
    eventually(lambda: not _alive(workers), 10, "the ingest workers end with their node")
    empty.start([])  # alone: only what survived the kill
    assert _count(empty) >= reported
    empty.stop()
    empty.start([full.peer_address])
    eventually(lambda: _count(empty) == expected, 120, "every chart stored")
    assert empty.sync_status()["quarantined"] == 0
    empty.stop()
    full.stop()
    theirs, mine = _contents(full_dir), _contents(empty_dir)
    assert mine["problems"] == [] and theirs["problems"] == []
    assert mine["heads"] == theirs["heads"]
    assert mine["rows"] == theirs["rows"] and all(len(rows) == 1 for rows in mine["rows"])
