"""User routes: the mesh directory's users, and an admin's changes to one of them."""

from __future__ import annotations

from aiohttp import web

from meshd.api.body import json_object
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of

SHOWN = ("name", "roles", "language", "disabled")


async def users(request: web.Request) -> web.Response:
    """GET /api/v1/users: {"users": {id: {name, roles, language, disabled}}} (no PIN hashes)."""
    found = await request.app[SERVICE].users()
    return web.json_response({"users": {
        k: {f: v.get(f) for f in SHOWN} | {"disabled": v.get("disabled") is True}
        for k, v in found.items()
    }})


async def change(request: web.Request) -> web.Response:
    """POST /api/v1/users/{user} {roles?, language?, disabled?}: 200 {"id"}; a disabled user
    can log in on no device (the directory syncs)."""
    user_id = request.match_info["user"]
    await request.app[SERVICE].change_user(user_id, await json_object(request),
                                           caller_of(request))
    return web.json_response({"id": user_id})


def add_routes(app: web.Application) -> None:
    """Mount the user routes."""
    app.router.add_get("/api/v1/users", users)
    app.router.add_post("/api/v1/users/{user}", change)
