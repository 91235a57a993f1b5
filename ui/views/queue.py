"""Today's queue by station and waiting time, kept live by server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from crdt_model.errors import ClinicMeshError
from ui.records import STATIONS, QueueEntry
from ui.web import now_ms, redirect, render, require, safe_next, service, state, today

routes = web.RouteTableDef()
HEARTBEAT_S = 15.0
CATEGORY_ORDER = {"emergency": 0, "priority": 1, "queue": 2, None: 3}


def by_station(entries: list[QueueEntry]) -> dict[str, list[QueueEntry]]:
    """Waiting patients per station: emergencies first, then the longest waiting."""
    groups: dict[str, list[QueueEntry]] = {s: [] for s in STATIONS}
    for entry in entries:
        groups.setdefault(entry.station, []).append(entry)
    for rows in groups.values():
        rows.sort(key=lambda e: (CATEGORY_ORDER.get(e.triage_category, 3), e.since_ms))
    return groups


async def _context(request: web.Request) -> dict[str, Any]:
    entries = await service(request).queue_today(today(request))
    return {"groups": by_station(entries), "waiting": sum(e.station != "done" for e in entries),
            "now": now_ms(request), "day": today(request),
            "follow_ups": await service(request).follow_ups(today(request)),
            "queued": {e.patient_id for e in entries}}


@routes.get("/queue")
async def queue_page(request: web.Request) -> web.StreamResponse:
    """Every station's waiting patients; the table refreshes itself when anything changes."""
    require(request, "queue")
    return render(request, "queue.html", **await _context(request))


@routes.get("/queue/table")
async def queue_table(request: web.Request) -> web.StreamResponse:
    """The queue table alone, fetched by the page when an event arrives."""
    require(request, "queue")
    return render(request, "_queue_table.html", **await _context(request))


@routes.post("/queue/move")
async def move(request: web.Request) -> web.StreamResponse:
    """Send a patient to another station."""
    who = require(request, "queue")
    form = await request.post()
    patient_id, station = form.get("patient_id"), form.get("station")
    if isinstance(patient_id, str) and isinstance(station, str):
        with contextlib.suppress(ClinicMeshError):
            await service(request).move_patient(patient_id, today(request), station, by=who.id)
    back = form.get("back")
    raise redirect(safe_next(back if isinstance(back, str) else "/queue"))


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one `change` event per changed document (kind and id)."""
    require(request, "queue")
    ui = state(request)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    await response.write(b": live\n\n")
    changes = service(request).subscribe()
    closing = ui.closing or asyncio.Event()
    stop = asyncio.ensure_future(closing.wait())
    # The pending step is kept across heartbeats: cancelling it would close the subscription.
    step: asyncio.Future[Any] | None = None
    try:
        while not closing.is_set():
            if step is None:
                step = asyncio.ensure_future(anext(changes))
            done, _ = await asyncio.wait({step, stop}, timeout=HEARTBEAT_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if step in done:
                change, step = step.result(), None
                payload = json.dumps({"doc": change.doc_id, "kind": change.kind})
                await response.write(f"event: change\ndata: {payload}\n\n".encode())
            elif not closing.is_set():
                await response.write(b": heartbeat\n\n")
    except (ConnectionResetError, StopAsyncIteration):
        pass
    finally:
        stop.cancel()
        if step is not None:
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
        aclose = getattr(changes, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    return response
