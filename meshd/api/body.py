"""Reading request bodies and path ids: JSON objects only, with clear field-level errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from crdt_model.errors import ValidationError
from crdt_model.ids import check_entry_id, check_uuid


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; ValidationError for anything else."""
    raw = await request.read()  # raises HTTPRequestEntityTooLarge past client_max_size
    if not raw.strip():
        raise ValidationError("the request body must be a JSON object", field="body")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ValidationError("the request body is not valid JSON", field="body") from None
    if not isinstance(value, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    return value


def _refuse_constant(name: str) -> object:
    # NaN and Infinity are not JSON, and a NaN slips through range checks on vitals.
    raise ValueError(f"{name} is not a number JSON allows")


async def optional_json_object(request: web.Request) -> dict[str, Any]:
    """Like json_object, but an empty body means `{}` (for verbs like close or done)."""
    if not (await request.read()).strip():
        return {}
    return await json_object(request)


def patient_id(request: web.Request) -> str:
    """The `{id}` of the path, a canonical patient UUID."""
    return check_uuid(request.match_info["id"], "id")


def path_entry(request: web.Request, name: str) -> str:
    """An entry id from the path (`{eid}`, `{pid}`, …)."""
    return check_entry_id(request.match_info[name], name)
