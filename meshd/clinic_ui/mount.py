"""Serving the web UI from the node: the `Node` extension that mounts it beside /api/v1.

The UI keeps its own login sessions (`ui.auth`); the JSON API keeps its bearer token. The
middleware added here only tells the service who is reading (for the audit log).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from meshd.backup import DeviceBackups
from meshd.clinic_ui.base import current_reader
from meshd.clinic_ui.service import NodeClinicService
from meshd.identity import DataDir
from ui.app import setup_ui
from ui.web import USER

if TYPE_CHECKING:
    from meshd.node import Node

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PIN_KEY_INFO = b"clinicmesh pin hashes v1"
LOCKOUT_FILE = "lockout.json"  # wrong-PIN counters, kept across restarts


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
    sync = node.sync

    def sync_report() -> Mapping[str, Any] | None:
        return sync.status(recent_docs=0)

    backups = DeviceBackups(node.data.path, node.options.passphrase) if node.data else None
    return NodeClinicService(node.clinic, sync_report=sync_report, relay_url=node.options.relay,
                             backups=backups, relay_patients=node.relay_patients)


def pin_hash_key(data: DataDir) -> bytes:
    """The key of the directory's PIN hashes, from the mesh's first key (which every device
    holds: pairing and invites hand over every epoch), so rotations never change it."""
    keys = dict(data.mesh_keys) or {data.mesh_epoch: data.mesh_key}
    first = keys[min(keys)]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PIN_KEY_INFO).derive(first)


def mount_ui(app: web.Application, node: Node) -> None:
    """Node extension: serve the clinician UI on the API's application (same host and port)."""
    data = node.data
    lockout_file = data.path / LOCKOUT_FILE if data is not None else None
    pin_key = pin_hash_key(data) if data is not None else b""
    setup_ui(app, service_for(node), lockout_file=lockout_file, pin_key=pin_key)
    # After the UI's middleware, so the user it loaded is known here.
    app.middlewares.append(reader_middleware)
