"""A delay and loss proxy for the chaos soak (this kernel has no netem): run inside a node's
namespace, it takes the node's outgoing sync connections (an nft `redirect` sends them here;
SO_ORIGINAL_DST says where they were going) and forwards them, each direction delayed by the
link's one-way delay, and each TCP segment "lost" with the link's probability. A real loss makes
TCP retransmit after a timeout, so a lost segment here holds its direction back by one
retransmission timeout (doubling while losses follow each other); the bytes still arrive, in
order, as TCP guarantees. Its own connections carry a firewall mark so they are not redirected.

The impairment is read from a JSON control file that the fault player rewrites: node IPv4 →
{"delay_ms": int, "loss": float}. A link is impaired by both its ends' entries. Stdlib only:

    python lossy_link.py --port 7790 --control FILE --own IP --seed N [--mark 0x77]
        [--target HOST:PORT]

(`--target` forwards every connection there instead: for tests without nft.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
SEGMENT = 1448  # bytes a TCP segment carries on an Ethernet LAN
CHUNK = 16384
RTO_MIN_S = 0.2
RTO_MAX_S = 5.0
CONTROL_POLL_S = 0.1


@dataclass(frozen=True)
class Impairment:
    delay_ms: float = 0.0
    loss: float = 0.0

    def plus(self, other: Impairment) -> Impairment:
        """Both ends' impairments on one link: delays add, losses compound."""
        return Impairment(self.delay_ms + other.delay_ms,
                          1 - (1 - self.loss) * (1 - other.loss))

    def lost(self, rng: random.Random, nbytes: int) -> bool:
        """Whether a chunk of `nbytes` had at least one of its segments lost."""
        if self.loss <= 0:
            return False
        segments = max(1, -(-nbytes // SEGMENT))
        return rng.random() < 1 - (1 - self.loss) ** segments


class Control:
    """The control file, re-read whenever it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.by_ip: dict[str, Impairment] = {}
        self._mtime = -1.0

    def refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
            if mtime == self._mtime:
                return
            table = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return  # absent or half-written: keep the last table
        self._mtime = mtime
        self.by_ip = {ip: Impairment(float(v.get("delay_ms", 0)), float(v.get("loss", 0)))
                      for ip, v in table.items()}

    def link(self, a: str, b: str) -> Impairment:
        none = Impairment()
        return self.by_ip.get(a, none).plus(self.by_ip.get(b, none))


class LossyProxy:
    def __init__(self, control: Control, own_ip: str, seed: int, mark: int,
                 target: tuple[str, int] | None = None) -> None:
        self.control = control
        self.own_ip = own_ip
        self.rng = random.Random(seed)
        self.mark = mark
        self.target = target
        self.stalls = 0  # chunks held back by a "lost" segment, for tests and logs

    async def serve(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._accept, "0.0.0.0", port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            there = self._destination(writer)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if self.mark:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, self.mark)
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, there), 10)
            up_r, up_w = await asyncio.open_connection(sock=sock)
        except (OSError, TimeoutError):
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_w, there[0]), self._pipe(up_r, writer, there[0]))

    def _destination(self, writer: asyncio.StreamWriter) -> tuple[str, int]:
        """Where the connection was going before nft redirected it here."""
        if self.target is not None:
            return self.target
        raw = writer.get_extra_info("socket").getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        port, packed = struct.unpack_from("!2xH4s", raw)
        return socket.inet_ntoa(packed), port

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    peer_ip: str) -> None:
        """Forward one direction; each chunk leaves at its due time, in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(queue, writer))
        due, losses = 0.0, 0
        try:
            while chunk := await reader.read(CHUNK):
                link = self.control.link(self.own_ip, peer_ip)
                now = time.monotonic()
                at = now + link.delay_ms / 1000
                if link.lost(self.rng, len(chunk)):
                    losses += 1
                    self.stalls += 1
                    rto = max(RTO_MIN_S, 2 * link.delay_ms / 1000)
                    at += min(RTO_MAX_S, rto * 2 ** (losses - 1))
                else:
                    losses = 0
                due = max(due, at)
                queue.put_nowait((due, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait((0.0, b""))  # end of stream, after what is queued
            with contextlib.suppress(ConnectionError, OSError):
                await sender

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes]],
                    writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()


async def run(args: argparse.Namespace) -> None:
    control = Control(args.control)
    target = None
    if args.target:
        host, port = args.target.rsplit(":", 1)
        target = (host, int(port))
    proxy = LossyProxy(control, args.own, args.seed, int(args.mark, 0), target)
    server = await proxy.serve(args.port)
    print(f"lossy link proxy on port {args.port}", flush=True)
    async with server:
        while True:
            control.refresh()
            await asyncio.sleep(CONTROL_POLL_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--own", required=True, help="this node's IPv4 address")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mark", default="0x77", help="firewall mark of its own connections")
    parser.add_argument("--target", default=None, help="HOST:PORT for every connection")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
