"""POST /api/v1/bundles: a bundle file (the raw body) merged by the running node.

The caller (`meshd bundle import`, which unlocks the data dir) sends this bundle's frame key in
the X-Clinicmesh-Bundle-Key header, since the API holds no mesh key; the node still checks the
mesh, the signer against its roster, the signature and every frame before it stores anything.
The body is spooled to a temporary file, never held in memory.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of
from meshd.bundle.format import BundleRefused
from meshd.bundle.merge import BUNDLES_ROUTE, KEY_HEADER, import_into

MAX_BUNDLE_BYTES = 4 * 1024**3
KEY_BYTES = 32
READ_BYTES = 256 * 1024


def _key(request: web.Request) -> bytes:
    try:
        key = bytes.fromhex(request.headers.get(KEY_HEADER, ""))
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise BundleRefused(f"send the bundle's key (32 bytes of hex) in {KEY_HEADER}")
    return key


async def _spool(request: web.Request, path: Path) -> None:
    size = 0
    with path.open("wb") as out:
        while chunk := await request.content.read(READ_BYTES):
            size += len(chunk)
            if size > MAX_BUNDLE_BYTES:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BUNDLE_BYTES, actual_size=size)
            await asyncio.to_thread(out.write, chunk)


async def import_bundle(request: web.Request) -> web.Response:
    """Check and merge the bundle of the body; {"documents", "changed", "unchanged", …}."""
    caller_of(request)
    key = _key(request)
    service = request.app[SERVICE]
    with tempfile.TemporaryDirectory(prefix="clinicmesh-bundle-") as folder:
        path = Path(folder) / "bundle"
        await _spool(request, path)
        summary = await import_into(service.docs, service.identity.mesh_id, path, key)
    return web.json_response(summary)


def add_routes(app: web.Application) -> None:
    """Mount the bundle route."""
    app.router.add_post(BUNDLES_ROUTE, import_bundle)
