"""Assembles the JSON API: middlewares, a body size limit, and every route module."""

from __future__ import annotations

from aiohttp import web

from meshd.api import (
    attachments,
    bundles,
    chart_ops,
    documents,
    facility,
    health,
    patients,
    queue,
    reports,
    users,
)
from meshd.api.host_check import allowed_host_names, host_check_middleware
from meshd.api.keys import SERVICE
from meshd.api.middleware import Authenticate, auth_middleware, error_middleware
from meshd.clinic import Clinic

# A chart operation is a few kB of JSON; 1 MiB leaves room and stops a memory-filling upload.
MAX_BODY_BYTES = 1024 * 1024


def create_api_app(
    clinic: Clinic, authenticate: Authenticate, *, max_body_bytes: int = MAX_BODY_BYTES,
    listen_host: str = "127.0.0.1",
) -> web.Application:
    """The aiohttp application of the API; the UI's routes may be added to it afterwards."""
    app = web.Application(
        client_max_size=max_body_bytes,
        middlewares=[host_check_middleware(allowed_host_names(listen_host)), error_middleware(),
                     auth_middleware(authenticate)],
    )
    app[SERVICE] = clinic
    for module in (health, patients, chart_ops, facility, queue, documents, bundles, users,
                   reports, attachments):
        module.add_routes(app)
    return app
