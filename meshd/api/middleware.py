"""What every API request passes through: authentication, error shaping, never a crash.

Errors always leave as JSON `{"error", "message", "field"?}` with a 4xx (5xx only for a bug,
which is logged). Authentication is one small pluggable function so the UI's user sessions can
replace or extend the bearer token later.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from crdt_model.errors import (
    ClinicMeshError,
    ConflictError,
    CorruptDocument,
    Forbidden,
    InvalidFields,
    NotFound,
    StoreError,
    TooLarge,
    ValidationError,
)
from meshd.clinic import Caller

log = logging.getLogger(__name__)

Authenticate = Callable[[web.Request], Awaitable[str | None]]
"""A request -> the user id it acts as, or None when it is not authenticated."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CALLER = web.RequestKey("caller", Caller)
API_PREFIX = "/api/"
PUBLIC_PATHS = frozenset({"/api/v1/health"})
API_USER = "api"

_STATUS = {
    TooLarge: 413,  # before ValidationError: the first matching class decides
    ValidationError: 400,
    CorruptDocument: 400,
    NotFound: 404,
    Forbidden: 403,
    ConflictError: 409,
    StoreError: 503,
}


def bearer_token_auth(token: str) -> Authenticate:
    """Accept `Authorization: Bearer <token>` (compared in constant time) as the `api` user."""
    expected = token.encode()

    async def authenticate(request: web.Request) -> str | None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        if hmac.compare_digest(given.strip().encode(), expected):
            return API_USER
        return None

    return authenticate


def error_response(
    status: int, code: str, message: str, field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> web.Response:
    """The one JSON error shape of the API (`errors`: every wrong field of bad input)."""
    body: dict[str, Any] = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status)


def _problems(exc: ClinicMeshError) -> list[dict[str, Any]] | None:
    """Each wrong field of bad input: {field, message, problem, limits}."""
    if not isinstance(exc, ValidationError):
        return None
    return [{"field": e.field, "message": e.message, "problem": e.problem,
             "limits": list(e.limits)}
            for e in (exc.errors if isinstance(exc, InvalidFields) else [exc])]


def error_middleware() -> Any:
    """Turn every failure into the JSON error shape; a bug becomes a logged 500, not a crash."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)  # the UI's pages shape their own errors
        try:
            return await handler(request)
        except ClinicMeshError as exc:
            status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 400)
            return error_response(status, exc.code, exc.message, exc.field, _problems(exc))
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "too_large", "the request body is too large")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error_response(exc.status, _http_code(exc.status), exc.reason)
        except Exception:
            log.exception("API request %s %s failed", request.method, request.path)
            return error_response(500, "internal", "the device hit an internal error")
        except BaseException as exc:
            # A Rust panic (pyo3 PanicException) is a BaseException; it must not kill the node.
            if type(exc).__name__ != "PanicException":
                raise
            log.error("automerge panicked on %s %s", request.method, request.path)
            return error_response(500, "internal", "the document engine failed on this request")

    return errors


def auth_middleware(authenticate: Authenticate) -> Any:
    """Refuse every non-public API request that `authenticate` does not accept, with a 401."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or not request.path.startswith(API_PREFIX):
            return await handler(request)
        user = await authenticate(request)
        if user is None:
            return error_response(
                401, "unauthorized",
                "missing or wrong API token: send 'Authorization: Bearer <DATA_DIR/api-token>'",
            )
        request[CALLER] = Caller(user=user, origin=request.remote or "unknown")
        return await handler(request)

    return auth


def caller_of(request: web.Request) -> Caller:
    """The authenticated caller of `request` (set by the auth middleware)."""
    if CALLER not in request:
        raise web.HTTPUnauthorized(reason="not authenticated")
    return request[CALLER]


def _http_code(status: int) -> str:
    return {
        401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
    }.get(status, "bad_request")
