"""Killing the writer at random moments never loses an acknowledged write or damages the store."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from store_helpers import TEST_KEY

from crdt_model.adapter import Doc
from meshd.store.sqlcipher import SqlCipherStore

CHILD = Path(__file__).with_name("crash_writer.py")
ROUNDS = 20
BUDGET_S = 45.0
ACKS_PER_ROUND_MAX = 150


async def _run_and_kill(path: Path, seed: int, rng: random.Random) -> list[str]:
    """Start the writer, let it acknowledge a random number of writes, SIGKILL it mid-flight."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(path), TEST_KEY.hex(), str(seed),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    wanted = rng.randint(1, ACKS_PER_ROUND_MAX)
    lines: list[str] = []
    try:
        while len(lines) < wanted:
            line = await asyncio.wait_for(child.stdout.readline(), timeout=20)
            if not line:
                error = (await child.stderr.read()).decode()
                raise AssertionError(f"the writer ended early: {error}")
            lines.append(line.decode())
        # Die somewhere inside the next write: before, during or after its COMMIT.
        await asyncio.sleep(rng.uniform(0, 0.02))
    finally:
        child.send_signal(signal.SIGKILL)
        rest = await child.stdout.read()
        await child.wait()
    lines += rest.decode().splitlines(keepends=True)
    return [line for line in lines if line.endswith("\n")]


@pytest.mark.asyncio
async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    rng = random.Random(20261122)
    acked: dict[str, set[bytes]] = {}
    started = time.monotonic()
    rounds = 0
    while rounds < ROUNDS and time.monotonic() - started < BUDGET_S:
        for line in await _run_and_kill(path, rounds, rng):
            _, doc_id, heads = line.split()
            acked.setdefault(doc_id, set()).update(bytes.fromhex(h) for h in heads.split(","))
        rounds += 1
    assert rounds >= 5 and acked
    async with SqlCipherStore(path, TEST_KEY) as store:
        assert await store.integrity_check() == []
        stored = await store.read_many(sorted(acked))
        assert set(stored) == set(acked)
        for doc_id, hashes in acked.items():
            doc = Doc.load(stored[doc_id])
            have = {info.hash for info in doc.history()}
            assert hashes <= have, f"{doc_id} lost an acknowledged change"
            assert doc.to_dict()["demographics"]["family_name"] == "Crash"
