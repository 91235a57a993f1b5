"""Node in-process: start/stop lifecycle, the extension seam the UI mounts through, run.json."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from meshd.identity import init_data_dir
from meshd.node import Node, NodeOptions, running_node


@pytest.mark.asyncio
async def test_node_serves_extensions_and_stops_twice_safely(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path / "d", device_name="desk")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ui here")

    def mount_ui(app: web.Application, node: Node) -> None:
        app.router.add_get("/", hello)

    node = Node(NodeOptions(data_dir=data.path, api_port=0, peer_port=0, extensions=[mount_ui]))
    async with node:
        assert node.started.is_set() and node.api_port
        record = running_node(data.path)
        assert record is not None and record["api_port"] == node.api_port
        base = f"http://127.0.0.1:{node.api_port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/") as response:
                assert await response.text() == "ui here"
            headers = {"Authorization": f"Bearer {data.api_token}"}
            async with session.get(base + "/api/v1/patients", headers=headers) as response:
                assert json.loads(await response.text()) == {"results": []}
    await node.stop()
    assert not node.started.is_set()
    assert running_node(data.path) is None


@pytest.mark.asyncio
async def test_a_node_that_cannot_start_closes_what_it_opened(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path / "d", device_name="desk")
    first = Node(NodeOptions(data_dir=data.path, api_port=0))
    async with first:
        taken = first.api_port
        assert taken is not None
        second = Node(NodeOptions(data_dir=data.path, api_port=taken))
        with pytest.raises(OSError):
            await second.start()
        assert second.store is None and not second.started.is_set()
