#!/usr/bin/env python3
"""A TCP proxy that counts bytes, adds a one-way delay, and cuts and restores its links.

    cut_proxy.py LISTEN_HOST:PORT TARGET_HOST:PORT CONTROL_FILE STATS_FILE [--delay-ms N]

While CONTROL_FILE says `down`, every live connection is aborted (both ends get a reset, as
when a link drops) and new ones are closed at once; `up` (or no file) lets them through. Each
direction is delayed by --delay-ms (this kernel has no netem; the rate is shaped by `tc tbf` on
the namespaces' interfaces). STATS_FILE gets {"up": bytes client→target, "down": bytes
target→client, "connections", "cuts"} every POLL_S. Prints `listening` when ready. Used by
tests/relay/test_relay_shaped_link.py and scripts/bench/relay_link, inside a network
namespace; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path

POLL_S = 0.05
READ_BYTES = 16 * 1024
SEND_BUFFER_BYTES = 16 * 1024
QUEUE_BYTES = 64 * 1024  # read no further ahead of the target: a link has no elastic buffer


class CutProxy:
    def __init__(self, target: tuple[str, int], control: Path, stats: Path,
                 delay_s: float) -> None:
        self.target = target
        self.control = control
        self.stats_path = stats
        self.delay_s = delay_s
        self.totals = {"up": 0, "down": 0, "connections": 0, "cuts": 0}
        self.live: set[asyncio.StreamWriter] = set()
        self.is_up = True

    def read_control(self) -> bool:
        try:
            return self.control.read_text().strip() != "down"
        except FileNotFoundError:
            return True

    async def watch(self) -> None:
        while True:
            up = self.read_control()
            if self.is_up and not up:
                self.totals["cuts"] += 1
                for writer in list(self.live):
                    writer.transport.abort()
                self.live.clear()
            self.is_up = up
            tmp = self.stats_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.totals))
            os.replace(tmp, self.stats_path)
            await asyncio.sleep(POLL_S)

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.totals["connections"] += 1
        for end in (writer, up_writer):  # bytes counted as sent sit in no large kernel buffer
            sock = end.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        self.live.update((writer, up_writer))
        try:
            await asyncio.gather(self.pipe(reader, up_writer, "up"),
                                 self.pipe(up_reader, writer, "down"), return_exceptions=True)
        finally:
            for end in (writer, up_writer):
                self.live.discard(end)
                end.transport.abort()

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   direction: str) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        room = asyncio.Event()
        room.set()
        queued = 0

        async def deliver() -> None:
            nonlocal queued
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if writer.transport.is_closing():
                    return
                writer.write(data)
                self.totals[direction] += len(data)
                await writer.drain()
                queued -= len(data)
                if queued <= QUEUE_BYTES:
                    room.set()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(READ_BYTES):
                queued += len(data)
                queue.put_nowait((time.monotonic() + self.delay_s, data))
                if queued > QUEUE_BYTES:
                    room.clear()
                    await room.wait()
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await sender
            writer.transport.abort()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("listen")
    parser.add_argument("target")
    parser.add_argument("control", type=Path)
    parser.add_argument("stats", type=Path)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    target_host, _, target_port = args.target.rpartition(":")
    proxy = CutProxy((target_host, int(target_port)), args.control, args.stats,
                     args.delay_ms / 1000)
    server = await asyncio.start_server(proxy.accept, host, int(port))
    watcher = asyncio.create_task(proxy.watch())
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    print("listening", flush=True)
    await stopping.wait()
    watcher.cancel()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
