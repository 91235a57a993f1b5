"""Attachment routes: upload a photo or document to a chart, download one by its SHA-256.

The upload's body is the file itself (its `Content-Type` header says what it is, `?name=` its
file name, `?purpose=photo` for the patient's photo). The body is read as a stream, not
through the 1 MiB JSON limit, and at most MAX_ATTACHMENT_BYTES are kept: a bigger file is read
to its end (so the client hears the answer) and refused with 413.
"""

from __future__ import annotations

from aiohttp import web

from crdt_model.attachments import MAX_ATTACHMENT_BYTES
from meshd.api.body import patient_id
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of
from meshd.clinic.attachments import too_large

READ_BYTES = 256 * 1024
# Past this the rest of an over-limit upload is not even read: the connection is dropped.
DRAIN_LIMIT_BYTES = 8 * MAX_ATTACHMENT_BYTES


async def read_limited(request: web.Request) -> bytes:
    """The request body, or TooLarge (after reading what was sent, up to DRAIN_LIMIT_BYTES)."""
    declared = request.content_length
    if declared is not None and declared > DRAIN_LIMIT_BYTES:
        raise too_large(declared)
    parts: list[bytes] = []
    total = 0
    while chunk := await request.content.read(READ_BYTES):
        total += len(chunk)
        if total > DRAIN_LIMIT_BYTES:
            break
        if total <= MAX_ATTACHMENT_BYTES:
            parts.append(chunk)
    if total > MAX_ATTACHMENT_BYTES:
        raise too_large(max(total, declared or 0))
    return b"".join(parts)


async def upload(request: web.Request) -> web.Response:
    """POST /api/v1/patients/{id}/attachments?name=…: 201 {"id", "sha256", "size"}."""
    data = await read_limited(request)
    added = await request.app[SERVICE].add_attachment(
        patient_id(request), data, request.headers.get("Content-Type", ""),
        request.query.get("name", "attachment"), caller_of(request),
        request.query.get("purpose", "document"))
    return web.json_response(added, status=201)


async def download(request: web.Request) -> web.Response:
    """GET /api/v1/attachments/{sha256}: the bytes, with the content type they were added with."""
    data, content_type = await request.app[SERVICE].attachment(
        request.match_info["sha256"], caller_of(request))
    # Any type may be uploaded: served to scripts, never run as a page of this origin.
    return web.Response(body=data, content_type=content_type, headers={
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": "attachment",
    })


def add_routes(app: web.Application) -> None:
    """Mount the attachment routes."""
    app.router.add_post("/api/v1/patients/{id}/attachments", upload)
    app.router.add_get("/api/v1/attachments/{sha256}", download)
