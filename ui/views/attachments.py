"""Photos and documents on a chart: the upload form's POST (a streamed multipart body, its size
checked as it is read) and the bytes of an attachment for the page to show or download."""

from __future__ import annotations

from aiohttp import web

from crdt_model.attachments import MAX_ATTACHMENT_BYTES, PURPOSES
from crdt_model.errors import ClinicMeshError, NotFound, TooLarge
from ui.forms import error_message
from ui.i18n import gettext as _
from ui.upload import Upload, too_big_message
from ui.views.consult import chart_page
from ui.views.patients import patient_id_of
from ui.web import redirect, require, safe_next, service

routes = web.RouteTableDef()
SHOWN_INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")


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
