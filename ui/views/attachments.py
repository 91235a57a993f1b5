"""Photos and documents on a chart: the upload form's POST (a streamed multipart body, its size
checked as it is read) and the bytes of an attachment for the page to show or download."""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from crdt_model.attachments import MAX_ATTACHMENT_BYTES, PURPOSES, megabytes
from crdt_model.errors import ClinicMeshError, NotFound, TooLarge
from ui.forms import error_message
from ui.i18n import gettext as _
from ui.views.consult import chart_page
from ui.views.patients import patient_id_of
from ui.web import UPLOAD, redirect, require, safe_next, service

routes = web.RouteTableDef()
READ_BYTES = 256 * 1024
FIELD_BYTES = 512  # purpose, back: short words and paths
# Past this the rest of an over-limit upload is not read: the connection is dropped.
DRAIN_LIMIT_BYTES = 8 * MAX_ATTACHMENT_BYTES
SHOWN_INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")


def too_big_message(size: int) -> str:
    """What a user reads when a file is over the limit (also shown by the page's script)."""
    return _("The file is %(size)s MB; the largest a chart takes is %(limit)s MB. Take the "
             "photo or scan again at a lower resolution, or split the document.") % {
        "size": megabytes(size), "limit": megabytes(MAX_ATTACHMENT_BYTES)}


class Upload:
    """The fields of an upload form and its file, read from the stream in order."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.data = b""
        self.size = 0
        self.name = ""
        self.content_type = ""

    async def read(self, request: web.Request) -> None:
        """Read the fields and the file; the file's bytes are kept up to the limit only."""
        reader = request.get(UPLOAD)
        if reader is None:
            return
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file" and not self.size:
                await self._file(part)
            elif part.name:
                self.fields[part.name] = (await part.read_chunk(FIELD_BYTES)).decode(
                    "utf-8", "replace")

    async def _file(self, part: BodyPartReader) -> None:
        self.name = part.filename or ""
        self.content_type = part.headers.get("Content-Type", "")
        kept = []
        while (chunk := await part.read_chunk(READ_BYTES)):
            self.size += len(chunk)
            if self.size > DRAIN_LIMIT_BYTES:
                break
            if self.size <= MAX_ATTACHMENT_BYTES:
                kept.append(chunk)
        self.data = b"".join(kept)


@routes.post("/patients/{patient_id}/attachments")
async def upload(request: web.Request) -> web.StreamResponse:
    """Add a photo or a document to the chart, then go back to the page it came from."""
    me = require(request, "attach")
    patient_id = patient_id_of(request)
    sent = Upload()
    await sent.read(request)
    purpose = sent.fields.get("purpose", "document")
    back = safe_next(sent.fields.get("back") or f"/patients/{patient_id}#attachments")
    if not sent.size:
        return await chart_page(request, patient_id, {"file": _("Choose a file first.")},
                                status=400)
    if sent.size > MAX_ATTACHMENT_BYTES:
        return await chart_page(request, patient_id, {"file": too_big_message(sent.size)},
                                status=413)
    try:
        await service(request).add_attachment(
            patient_id, sent.data, sent.content_type, sent.name or "file",
            purpose if purpose in PURPOSES else "document", me.id)
    except NotFound:
        raise web.HTTPNotFound() from None
    except TooLarge:
        return await chart_page(request, patient_id, {"file": too_big_message(sent.size)},
                                status=413)
    except ClinicMeshError as exc:
        _field, message = error_message(exc)
        return await chart_page(request, patient_id, {"file": message}, status=400)
    raise redirect(back)


@routes.get("/attachments/{sha256}")
async def show(request: web.Request) -> web.StreamResponse:
    """The bytes of an attachment: shown in the page (photos, PDFs) or downloaded."""
    me = require(request, "read_attachment")
    try:
        data, content_type = await service(request).attachment(request.match_info["sha256"],
                                                               me.id)
    except (NotFound, ClinicMeshError):
        raise web.HTTPNotFound() from None
    # Photos and PDFs open in the browser; anything else (an HTML or SVG file, say) is only
    # downloaded, never shown as a page of this origin.
    inline = content_type in SHOWN_INLINE and "download" not in request.query
    return web.Response(body=data, content_type=content_type, headers={
        "Content-Disposition": "inline" if inline else "attachment"})
