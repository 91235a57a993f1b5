"""Serving the web UI from the node: the `Node` extension that mounts it beside /api/v1.

The UI keeps its own login sessions (`ui.auth`); the JSON API keeps its bearer token. The
middleware added here only tells the service who is reading (for the audit log).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from meshd.clinic_ui.base import current_reader
from meshd.clinic_ui.service import NodeClinicService
from ui.app import setup_ui
from ui.web import USER

if TYPE_CHECKING:
    from meshd.node import Node

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def reader_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Name the logged-in user (set by the UI's middleware) as the reader of this request."""
    user = request.get(USER)
    if user is None:
        return await handler(request)
    token = current_reader.set(user.id)
    try:
        return await handler(request)
    finally:
        current_reader.reset(token)


def service_for(node: Node) -> NodeClinicService:
    """The UI service of a node whose parts are built (extensions run then)."""
    if node.clinic is None or node.sync is None:
        raise RuntimeError("the node's clinic is not open yet")
    engine = node.sync.engine

    def sync_report() -> Mapping[str, Any] | None:
        return engine.status(recent_docs=0)

    return NodeClinicService(node.clinic, sync_report=sync_report, relay_url=node.options.relay)


def mount_ui(app: web.Application, node: Node) -> None:
    """Node extension: serve the clinician UI on the API's application (same host and port)."""
    setup_ui(app, service_for(node))
    # After the UI's middleware, so the user it loaded is known here.
    app.middlewares.append(reader_middleware)
