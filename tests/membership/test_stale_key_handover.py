"""A device still on an older mesh key gets only the directory, whichever side dials.

In-memory engines (sync fakes): `fresh` holds epochs 1 and 0, `stale` only 0 (it was offline
during the rotation); both are rostered. Whichever dials, the one holding the newer key hands
the stale one the directory document, and nothing else, then closes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model.adapter import Tx
from meshd.sync.crypto import public_bytes
from meshd.sync.engine import SyncEngine
from meshd.sync.fakes import MemoryDocuments, MemoryNetwork
from meshd.sync.handshake import Credentials
from meshd.sync.timing import SyncTiming

DIRECTORY = "directory:5b8e6a52-8f7e-4d0c-9d49-0c7a2f3f9e01"
CHART = "chart:6f1c2a4e-8a6b-4b7e-9a53-1f0f2d9b7c11"
OLD, NEW = os.urandom(32), os.urandom(32)
QUICK = SyncTiming(anti_entropy_interval_s=0.2, handshake_timeout_s=2.0, reconnect_min_s=0.05,
                   reconnect_max_s=0.2)
WAIT_S = 5.0


def _put(key: str) -> Callable[[Tx], None]:
    def build(tx: Tx) -> None:
        tx.put((), key, "value")

    return build


class Pair:
    """Two engines on one memory network, stopped at the end."""

    def __init__(self) -> None:
        self.network = MemoryNetwork()
        self.keys = {"fresh": Ed25519PrivateKey.generate(), "stale": Ed25519PrivateKey.generate()}
        self.roster = {public_bytes(key) for key in self.keys.values()}
        self.docs = {name: MemoryDocuments(os.urandom(16)) for name in self.keys}
        self.engines: list[SyncEngine] = []
        self.docs["fresh"].edit(DIRECTORY, _put("sealed"))
        self.docs["fresh"].edit(CHART, _put("allergy"))

    async def start(self, name: str, keys: list[tuple[int, bytes]], peers: list[str]) -> None:
        credentials = Credentials(self.keys[name], name, keys[0][1], lambda: self.roster,
                                  keyring=lambda: keys, handoff_docs=(DIRECTORY,))
        engine = SyncEngine(credentials, self.docs[name], self.network.transport(name),
                            peers=peers, timing=QUICK)
        self.engines.append(engine)
        await engine.start()

    async def stop(self) -> None:
        for engine in self.engines:
            await engine.stop()


@pytest_asyncio.fixture
async def pair() -> AsyncIterator[Pair]:
    made = Pair()
    yield made
    await made.stop()


async def _arrives(docs: MemoryDocuments, doc_id: str) -> None:
    """Wait (bounded) until `doc_id` is held by `docs`."""
    arrived = asyncio.Event()
    unsubscribe = docs.subscribe(lambda change: arrived.set() if change.doc_id == doc_id else None)
    try:
        if doc_id not in docs.docs:
            await asyncio.wait_for(arrived.wait(), WAIT_S)
    finally:
        unsubscribe()


async def _until_directory(pair: Pair) -> None:
    await _arrives(pair.docs["stale"], DIRECTORY)
    assert CHART not in pair.docs["stale"].docs


@pytest.mark.asyncio
async def test_a_stale_dialer_is_handed_only_the_directory_then_syncs_on_the_new_key(
    pair: Pair,
) -> None:
    await pair.start("fresh", [(1, NEW), (0, OLD)], [])
    stale_keys = [(0, OLD)]
    await pair.start("stale", stale_keys, ["fresh"])
    await _until_directory(pair)
    assert pair.engines[0].connected_peers() == []
    # What KeyAdopter does once it opens its sealed copy: hold the new key, drop old sessions.
    stale_keys.insert(0, (1, NEW))
    pair.engines[1].end_outdated_sessions()
    await _arrives(pair.docs["stale"], CHART)


@pytest.mark.asyncio
async def test_a_fresh_dialer_falls_back_to_the_old_key_and_hands_over_the_directory(
    pair: Pair,
) -> None:
    await pair.start("stale", [(0, OLD)], [])
    await pair.start("fresh", [(1, NEW), (0, OLD)], ["stale"])
    await _until_directory(pair)
