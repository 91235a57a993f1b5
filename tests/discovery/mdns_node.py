"""A discovery node for the real-network tests: run inside a namespace, prints JSON lines.

    python mdns_node.py --id ward-a --port 7701 --mesh MESH [--pairing] [--lifetime-s 30]

Prints {"event": "started", "began": <when start() was called>, ...} once advertising, then
{"event": "peer", ...} per reported peer, {"event": "lost", ...} and {"event": "ignored", ...}
for a device of another mesh; exits after --lifetime-s (a bound), on SIGTERM, or on
--stop-after-peers N peers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from dataclasses import asdict

from discovery.hints import PeerHint
from discovery.mdns import MeshDiscovery


def _emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


class _IgnoredPeers(logging.Handler):
    """Turns MeshDiscovery's "ignoring device X of another mesh" into an `ignored` event."""

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("ignoring device") and isinstance(record.args, tuple):
            _emit("ignored", device_short_id=record.args[0])


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    peers: set[str] = set()
    logger = logging.getLogger("discovery.mdns")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_IgnoredPeers())

    def on_peer(hint: PeerHint) -> None:
        _emit("peer", **asdict(hint))
        peers.add(hint.device_short_id)
        if args.stop_after_peers and len(peers) >= args.stop_after_peers:
            stop.set()

    discovery = MeshDiscovery(
        device_short_id=args.id,
        port=args.port,
        mesh_id=args.mesh or None,
        on_peer=on_peer,
        on_peer_lost=lambda device: _emit("lost", device_short_id=device),
        address_poll_s=args.poll_s,
    )
    began = time.monotonic()
    async with discovery:
        if args.pairing:
            await discovery.set_pairing(True)
        if discovery.mesh_hash is not None:
            await asyncio.wait_for(discovery.advertised.wait(), 10)
        _emit("started", addresses=list(discovery.addresses), began=began)
        try:
            await asyncio.wait_for(stop.wait(), args.lifetime_s)
        except TimeoutError:
            pass
    _emit("stopped", tasks=len(asyncio.all_tasks()) - 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--id", required=True)
    parser.add_argument("--port", type=int, default=7701)
    parser.add_argument("--mesh", default="")
    parser.add_argument("--pairing", action="store_true")
    parser.add_argument("--lifetime-s", type=float, default=30.0)
    parser.add_argument("--poll-s", type=float, default=1.0)
    parser.add_argument("--stop-after-peers", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
