"""Flow control of a sync link (meshd.sync.flow) and bulk frames sized to the link."""

from __future__ import annotations

import asyncio
import socket

from meshd.sync.flow import WINDOW_BYTES, Window


def test_the_window_counts_what_the_peer_has_not_read_and_waits_for_room() -> None:
    async def run() -> None:
        server_side: list[asyncio.StreamReader] = []
        accepted, finished = asyncio.Event(), asyncio.Event()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server_side.append(reader)
            accepted.set()
            await finished.wait()  # the connection stays open while the test reads
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(10):
            await accepted.wait()
        window = Window(writer.transport)
        writer.write(b"x" * (4 * 1024 * 1024))  # the peer reads nothing yet
        await asyncio.sleep(0.2)
        assert window.queued() > WINDOW_BYTES
        waiting = asyncio.create_task(window.wait_open())
        await asyncio.sleep(0.2)
        assert not waiting.done()  # no room until the peer reads
        reader = server_side[0]
        async with asyncio.timeout(20):
            await reader.readexactly(4 * 1024 * 1024)
            await waiting
        assert waiting.result()
        raw = writer.transport.get_extra_info("socket")
        assert raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) <= 2 * 64 * 1024
        writer.close()
        await writer.wait_closed()
        finished.set()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.1)  # the handler closes its end

    asyncio.run(run())

