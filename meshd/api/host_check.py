"""Refuse requests whose Host names a server this node is not (DNS rebinding, DESIGN §6).

A web page on an attacker's domain can re-point its name at 127.0.0.1 and then call the UI and
API from the clinician's own browser; its requests still carry the attacker's name in `Host`.
So only the names this node serves pass: IP literals (a rebinding attack needs a name),
`localhost`, and the name given to `--host`. Anything else gets 421 before any handler runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOCAL_NAMES = ("localhost",)


def allowed_host_names(listen_host: str) -> frozenset[str]:
    """The DNS names a node listening on `listen_host` answers to (IP literals always pass)."""
    names = {*LOCAL_NAMES, listen_host.strip("[]").lower().rstrip(".")}
    return frozenset(n for n in names if n and not _is_ip(n))


def host_check_middleware(names: Iterable[str]) -> Any:
    """A middleware answering 421 to any request whose Host is not served here."""
    allowed = frozenset(names)

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _served(request.headers.get("Host", ""), allowed):
            return web.json_response(
                {"error": "wrong_host", "message": "This device does not serve that host name."},
                status=421,
            )
        return await handler(request)

    return check_host


def _served(host: str, allowed: frozenset[str]) -> bool:
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:7700
        name = name[1:name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    return bool(name) and (_is_ip(name) or name in allowed)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
