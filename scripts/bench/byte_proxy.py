"""A byte-counting TCP proxy on 127.0.0.1 for the benchmarks: every byte each way is counted
and forwarded unchanged, so two sync protocols can be measured on one footing."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

CHUNK = 65536


class ByteProxy:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to `target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.upstream = 0  # bytes from the clients to the target
        self.downstream = 0  # bytes from the target back to the clients
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def total(self) -> int:
        return self.upstream + self.downstream

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> ByteProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            target_r, target_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self.connections += 1
        up = asyncio.create_task(self._pipe(client_r, target_w, upstream=True))
        down = asyncio.create_task(self._pipe(target_r, client_w, upstream=False))
        self._pipes |= {up, down}
        up.add_done_callback(self._pipes.discard)
        down.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    upstream: bool) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                if upstream:
                    self.upstream += len(chunk)
                else:
                    self.downstream += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


@contextlib.contextmanager
def proxy_thread(target_port: int) -> Iterator[ByteProxy]:
    """A ByteProxy to `target_port` on an event loop of its own thread, so the caller may block."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="byte-proxy", daemon=True)
    thread.start()
    proxy = asyncio.run_coroutine_threadsafe(ByteProxy(target_port).start(), loop).result(10)
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
