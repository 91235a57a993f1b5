"""An inviting or joining device for the real-network pairing tests; prints JSON lines.

    python pairing_node.py invite --id ward-a --mesh MESH --code 123456 [--port 7701]
    python pairing_node.py join --id new-tab --code 123456 [--family 4|6]

The inviter serves the pairing route and advertises its pairing flag over mDNS; the joiner finds
it by that flag alone and pairs. Both exit after --lifetime-s at the latest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from aiohttp import web

from discovery.errors import PairingError
from discovery.inviting import find_inviting_device, list_inviting_devices
from discovery.mdns import MeshDiscovery
from discovery.pairing import PairingWindow
from discovery.pairing_http import add_pairing_route, pair_with_any_address, pairing_handler


def _emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def invite(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    window = PairingWindow(f"secret of {args.mesh}".encode(), code=args.code)

    async def on_joined(identity: bytes) -> None:
        _emit("joined", identity=identity.decode())

    app = web.Application()
    add_pairing_route(app, pairing_handler(lambda: window, on_joined=on_joined))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, None, args.port)  # every address, IPv4 and IPv6
    await site.start()
    try:
        async with MeshDiscovery(
            device_short_id=args.id, port=args.port, mesh_id=args.mesh, on_peer=lambda h: None
        ) as discovery:
            await discovery.set_pairing(True)
            _emit("ready", code=window.code)
            try:
                await asyncio.wait_for(stop.wait(), args.lifetime_s)
            except TimeoutError:
                pass
    finally:
        await runner.cleanup()


async def join(args: argparse.Namespace) -> None:
    hint = await find_inviting_device(device_short_id=args.id, timeout_s=args.lifetime_s)
    addresses = [a for a in hint.addresses if args.family == 0 or (":" in a) == (args.family == 6)]
    _emit("found", device_short_id=hint.device_short_id, addresses=addresses)
    try:
        address, secret = await pair_with_any_address(
            addresses, hint.port, args.code, f"pubkey|{args.id}".encode(), timeout_s=10
        )
    except PairingError as error:
        _emit("failed", code=error.code, message=error.message)
        return
    _emit("paired", address=address, secret=secret.decode())


async def list_open(args: argparse.Namespace) -> None:
    hints = await list_inviting_devices(device_short_id=args.id, listen_s=args.lifetime_s)
    _emit("listed", devices=[h.device_short_id for h in hints])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["invite", "join", "list"])
    parser.add_argument("--id", required=True)
    parser.add_argument("--mesh", default="mesh-1")
    parser.add_argument("--code", default="000000")
    parser.add_argument("--port", type=int, default=7701)
    parser.add_argument("--family", type=int, choices=[0, 4, 6], default=0)
    parser.add_argument("--lifetime-s", type=float, default=30.0)
    parsed = parser.parse_args()
    roles = {"invite": invite, "join": join, "list": list_open}
    asyncio.run(roles[parsed.role](parsed))
