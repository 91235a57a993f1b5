"""`GET /api/v1/health`: the one unauthenticated route, for scripts and load balancers."""

from __future__ import annotations

from aiohttp import web

from meshd.api.keys import SERVICE


async def health(request: web.Request) -> web.Response:
    """200 {"status": "ok", "device": <device id>, "name": <device name>}."""
    identity = request.app[SERVICE].identity
    return web.json_response(
        {"status": "ok", "device": identity.device_id, "name": identity.device_name}
    )


def add_routes(app: web.Application) -> None:
    """Mount the health route."""
    app.router.add_get("/api/v1/health", health)
