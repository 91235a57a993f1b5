"""Fetching attachment blobs from peers, without sockets: each peer is another BlobSync over its
own MemoryStore, wired request -> answer -> received. A lying peer's bytes are refused for the
next peer's; a peer that lacks the blob or goes quiet is passed over; the background loop
fetches what the charts reference."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import pytest
import pytest_asyncio

from meshd import wire
from meshd.store.memory import MemoryStore
from meshd.sync.blobs import BlobSync, Send

TWO_MB = 2 * 1024 * 1024
QUICK_TIMEOUT_S = 0.3


def _unsubscribe() -> None:
    """Nothing to undo: the tests wake the loop themselves."""


@dataclass
class Device:
    """A store and its BlobSync; `peers` is filled in by the test."""

    name: str
    store: WatchedStore
    sync: BlobSync
    peers: list[tuple[str, Send]]


class WatchedStore(MemoryStore):
    """A MemoryStore that says when a blob was stored."""

    def __init__(self) -> None:
        super().__init__()
        self.stored = asyncio.Event()

    async def put_blob(self, sha256: str, data: bytes, content_type: str) -> None:
        await super().put_blob(sha256, data, content_type)
        self.stored.set()


def _device(name: str, wanted: list[str] | None = None) -> Device:
    store = WatchedStore()
    peers: list[tuple[str, Send]] = []

    async def listed() -> list[str]:
        return [s for s in wanted or [] if not await store.blobs_held([s])]

    sync = BlobSync(store, lambda: peers, listed, lambda _listener: _unsubscribe,
                    retry_s=0.05, chunk_timeout_s=QUICK_TIMEOUT_S)
    return Device(name, store, sync, peers)


def _link(asker: Device, server: Device,
          tamper: Callable[[wire.BlobChunk], wire.BlobChunk | None] = lambda c: c) -> None:
    """`asker` may ask `server`; `tamper` changes (or, returning None, drops) each answer."""
    tasks: set[asyncio.Task[None]] = set()

    async def relay(request: wire.BlobRequest) -> None:
        answer = tamper(await server.sync.answer(request))
        if answer is not None:
            asker.sync.received(server.name, answer)

    def send(request: wire.BlobRequest) -> None:
        task = asyncio.get_running_loop().create_task(relay(request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    asker.peers.append((server.name, send))


@pytest_asyncio.fixture
async def started() -> AsyncIterator[list[Device]]:
    """Devices the test makes; their stores and syncs are stopped afterwards."""
    devices: list[Device] = []
    yield devices
    for device in devices:
        await device.sync.stop()
        await device.store.stop()


async def _open(devices: list[Device], *made: Device) -> None:
    for device in made:
        await device.store.start()
        devices.append(device)


async def _holding(name: str, data: bytes) -> tuple[Device, str]:
    device = _device(name)
    await device.store.start()
    sha = hashlib.sha256(data).hexdigest()
    await device.store.put_blob(sha, data, "application/pdf")
    return device, sha


@pytest.mark.asyncio
async def test_a_2_mb_blob_is_fetched_chunk_by_chunk_and_checked(started: list[Device]) -> None:
    scan = os.urandom(TWO_MB + 1000)  # nine chunks, the last one short
    holder, sha = await _holding("holder", scan)
    asker = _device("asker")
    await _open(started, asker)
    started.append(holder)
    _link(asker, holder)
    assert await asker.sync.fetch(sha)
    assert await asker.store.read_blob(sha) == (scan, "application/pdf")
    assert asker.sync.status() == {"fetched": 1, "refused": 0, "fetching": 0}


@pytest.mark.asyncio
async def test_a_lying_peer_is_refused_and_the_next_one_asked(started: list[Device]) -> None:
    scan = os.urandom(300_000)
    liar, sha = await _holding("liar", scan)
    honest, _ = await _holding("honest", scan)
    asker = _device("asker")
    await _open(started, asker)
    started += [liar, honest]

    def flip(chunk: wire.BlobChunk) -> wire.BlobChunk:
        return replace(chunk, data=bytes([chunk.data[0] ^ 1]) + chunk.data[1:])

    _link(asker, liar, flip)
    _link(asker, honest)
    assert await asker.sync.fetch(sha)
    assert (await asker.store.read_blob(sha) or (b"", ""))[0] == scan
    assert asker.sync.status()["refused"] == 1


@pytest.mark.asyncio
async def test_peers_that_lack_it_or_stay_quiet_leave_it_missing(started: list[Device]) -> None:
    lacking, quiet = _device("lacking"), _device("quiet")
    asker = _device("asker")
    await _open(started, asker, lacking, quiet)
    _link(asker, lacking)
    _link(asker, quiet, lambda _chunk: None)
    sha = "ab" * 32
    assert not await asker.sync.fetch(sha)
    assert await asker.store.blobs_held([sha]) == set()


@pytest.mark.asyncio
async def test_a_blob_bigger_than_a_chart_takes_is_not_fetched(started: list[Device]) -> None:
    holder, sha = await _holding("holder", b"%PDF small")
    asker = _device("asker")
    await _open(started, asker)
    started.append(holder)
    _link(asker, holder, lambda c: replace(c, size=30 * 1024 * 1024, chunk_count=120))
    assert not await asker.sync.fetch(sha)


@pytest.mark.asyncio
async def test_the_background_loop_fetches_what_charts_reference(started: list[Device]) -> None:
    photo = os.urandom(70_000)
    holder, sha = await _holding("holder", photo)
    asker = _device("asker", wanted=[sha])
    await _open(started, asker)
    started.append(holder)
    _link(asker, holder)
    await asker.sync.start()
    async with asyncio.timeout(10):
        await asker.store.stored.wait()
    assert await asker.store.blobs_held([sha]) == {sha}
    assert asker.sync.status()["fetched"] == 1
