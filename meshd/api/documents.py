"""Document routes: heads and saved Automerge bytes of any document, for scripts and tests."""

from __future__ import annotations

from aiohttp import web

from crdt_model.ids import parse_doc_id
from meshd.api.keys import SERVICE
from meshd.api.middleware import caller_of


async def heads(request: web.Request) -> web.Response:
    """GET /api/v1/docs/{doc_id}/heads: {"doc_id", "heads": [hex change hashes]}."""
    doc_id = request.match_info["doc_id"]
    parse_doc_id(doc_id)
    found = await request.app[SERVICE].heads(doc_id)
    return web.json_response({"doc_id": doc_id, "heads": [h.hex() for h in found]})


async def automerge_bytes(request: web.Request) -> web.Response:
    """GET /api/v1/docs/{doc_id}/automerge: the saved document (application/octet-stream)."""
    doc_id = request.match_info["doc_id"]
    parse_doc_id(doc_id)
    data = await request.app[SERVICE].export(doc_id, caller_of(request))
    return web.Response(body=data, content_type="application/octet-stream")


def add_routes(app: web.Application) -> None:
    """Mount the document routes."""
    app.router.add_get("/api/v1/docs/{doc_id}/heads", heads)
    app.router.add_get("/api/v1/docs/{doc_id}/automerge", automerge_bytes)
