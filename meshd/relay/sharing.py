"""Charts follow patients: search every clinic on the relay, pull a chart into the asking
clinic, and from then on carry each change of it to every clinic that holds it.

A chart copied between clinics carries the relay's countersignature over each author's latest
change: the relay proved those changes against their own clinic's roster when they arrived, and
the receiving clinic's devices accept the relay's key (from their credential) for devices that
are not theirs (docs/ARCHITECTURE.md §5 "Relay"). Every search and pull is audited on the relay
(`relay.db`) and in the stores of the clinics involved. A relay with an upstream also searches
there for its clinic, and pulls through it first (meshd.relay.upstream_patients).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from crdt_model.context import Author
from crdt_model.disclosures import record_disclosure
from crdt_model.errors import ValidationError
from crdt_model.ids import CHART, chart_id, check_uuid
from meshd.clinic import Caller, new_id
from meshd.docs import Listener
from meshd.relay.registry import now_ms
from meshd.relay.space import RELAY_USER, ClinicSpace
from meshd.relay.upstream_patients import REACHED, UpstreamPatients
from meshd.sync.ports import Heads

if TYPE_CHECKING:
    from meshd.relay.server import RelayServer

log = logging.getLogger(__name__)

COPY_ORIGIN = "relay:"  # origin of a chart copied from another clinic's space
SEARCH_LIMIT = 20
MIN_QUERY_CHARS = 2
SHARED_RELOAD_S = 5.0  # on PostgreSQL another relay process may have shared a chart since
RESULT_FIELDS = ("id", "given_name", "family_name", "birth_date", "village")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def disclose(source: ClinicSpace, doc_id: str, asker: str) -> None:
    """Append to the chart in `source` that clinic `asker` pulled it (crdt_model.disclosures):
    written and signed by the relay's device, it syncs down to the source clinic's devices,
    which audit it (`relay_pulled_by`)."""
    assert source.documents is not None
    author = Author(source.identity.device_id, RELAY_USER, now_ms())
    await source.documents.update(
        doc_id, lambda doc: record_disclosure(doc, new_id(), "relay_pull", asker, author),
        actor=author.actor)


class Sharing:
    """Search, pull and the copying of shared charts between clinics' spaces."""

    def __init__(self, server: RelayServer) -> None:
        self._server = server
        self._upstream = UpstreamPatients(server.upstream)
        self._shared: dict[str, set[str]] | None = None
        self._shared_at = 0.0

    def add_routes(self, app: web.Application) -> None:
        """The relay's patient routes."""
        app.router.add_get("/relay/v1/patients", self._search)
        app.router.add_post("/relay/v1/patients/{id}/pull", self._pull)

    def listener(self, clinic_id: str) -> Listener:
        """The Documents listener of a clinic's space: carries its shared charts onwards."""

        async def heard(doc_id: str, heads: Heads, origin: str) -> None:
            if doc_id.startswith(CHART + ":") and not origin.startswith(COPY_ORIGIN):
                await self._carry(clinic_id, doc_id)

        return heard

    async def _holders(self, patient_id: str) -> set[str]:
        stale = self._server.db is not None and (
            time.monotonic() - self._shared_at > SHARED_RELOAD_S)
        if self._shared is None or stale:
            self._shared = await asyncio.to_thread(self._server.registry.shared)
            self._shared_at = time.monotonic()
        return self._shared.get(patient_id, set())

    async def _carry(self, source_id: str, doc_id: str) -> None:
        """Copy a changed shared chart to every other clinic holding it."""
        targets = await self._holders(doc_id.split(":", 1)[1]) - {source_id}
        source = self._server.spaces.get(source_id)
        if not targets or source is None:
            return
        found = await source.countersigned(doc_id)
        if found is None:
            return
        for target_id in sorted(targets):
            target = self._server.spaces.get(target_id)
            if target is not None:
                await target.take(doc_id, *found, COPY_ORIGIN + source_id)

    async def _search(self, request: web.Request) -> web.Response:
        clinic = await self._server.clinic_of(request)
        query = request.query.get("q", "").strip()
        if len(query) < MIN_QUERY_CHARS:
            return _error(400, "invalid", f"search with at least {MIN_QUERY_CHARS} characters")
        asking_upstream = asyncio.create_task(self._upstream.search(clinic.id, query))
        try:
            found = await self._search_here(clinic.id, clinic.name, query)
            above, upstream = await asking_upstream
        finally:
            asking_upstream.cancel()  # only if searching here failed
        for row in above:  # local first: a chart here is named by the clinic that holds it here
            if row["id"] not in found:
                found[row["id"]] = {k: row.get(k) for k in (*RESULT_FIELDS, "clinic")}
        results = list(found.values())[:SEARCH_LIMIT]
        detail: dict[str, Any] = {"q": query, "results": len(results)}
        if upstream is not None:
            detail["upstream"] = len(above) if upstream == REACHED else upstream
        await asyncio.to_thread(self._server.registry.audit, clinic.id, "search", detail)
        answer: dict[str, Any] = {"results": results}
        if upstream is not None:
            answer["upstream"] = upstream
        return web.json_response(answer)

    async def _search_here(self, clinic_id: str, clinic_name: str, query: str
                           ) -> dict[str, dict[str, Any]]:
        """Every clinic's patients on this relay matching `query`, by id."""
        found: dict[str, dict[str, Any]] = {}
        asker = Caller(f"clinic-{clinic_id}", "relay")  # audited in every clinic searched
        for space in list(self._server.spaces.values()):
            core = await space.core()
            for row in await core.search_patients(query, asker, SEARCH_LIMIT):
                result = {k: row.get(k) for k in RESULT_FIELDS}
                result["clinic"] = space.clinic.name
                kept = found.get(str(row["id"]))
                # A chart held by several clinics is named by one other than the asker's.
                if kept is None or kept["clinic"] == clinic_name:
                    found[str(row["id"])] = result
        return found

    async def _pull(self, request: web.Request) -> web.Response:
        clinic = await self._server.clinic_of(request)
        try:
            patient = check_uuid(request.match_info["id"], "id")
        except ValidationError as exc:
            return _error(400, "invalid", exc.message)
        doc_id = chart_id(patient)
        target = self._server.spaces.get(clinic.id)
        if target is None:
            return _error(409, "conflict", "link a device of this clinic to the relay first")
        upstream: web.Response | None = None
        if self._upstream.has_upstream(clinic.id):
            upstream = await self._pull_upstream(clinic.id, target, patient)
        sources = [s for s in list(self._server.spaces.values())
                   if s.clinic.id != clinic.id and await s.store.read(doc_id) is not None]
        if upstream is not None and upstream.status == 200:
            if sources:  # while the upstream is down, this relay carries it between them
                await self._share(patient, [clinic.id, *(s.clinic.id for s in sources)])
            return upstream
        here = await target.store.read(doc_id) is not None
        if not sources and not here:
            return upstream or _error(404, "not_found", "no clinic on this relay holds that chart")
        for source in sources:  # the chart in the source clinic records the pull first
            await disclose(source, doc_id, clinic.name)
        for source in sources:
            found = await source.countersigned(doc_id)
            if found is None:
                continue
            audit = [target.audit_event("relay_pull", doc_id, f"from {source.clinic.name}")]
            if not await target.take(doc_id, *found, COPY_ORIGIN + source.clinic.id, audit):
                return _error(409, "refused_change", "the chart did not pass the checks")
            await source.documents_record(source.audit_event(
                "relay_pulled_by", doc_id, f"by {clinic.name}"))
        await self._share(patient, [clinic.id, *(s.clinic.id for s in sources)])
        await asyncio.to_thread(self._server.registry.audit, clinic.id, "pull",
                                {"patient": patient,
                                 "from": [s.clinic.name for s in sources]})
        return web.json_response({"id": patient, "from": [s.clinic.name for s in sources]})

    async def _share(self, patient: str, holders: list[str]) -> None:
        """Record that these clinics hold the chart: each change is carried to the others."""
        await asyncio.to_thread(self._server.registry.share, patient, holders)
        await self._holders(patient)  # loads the map once
        assert self._shared is not None
        self._shared.setdefault(patient, set()).update(holders)

    async def _pull_upstream(self, clinic_id: str, target: ClinicSpace, patient: str
                             ) -> web.Response:
        """The upstream shares the chart with the clinic's space there and it comes down the
        tier link (meshd.relay.upstream_patients). Asked first, even for a chart a clinic here
        holds: copied upstream, every change of another district's device carries the upstream's
        countersignature, which the upstream's copy of this clinic accepts; this relay's own,
        for such a device, it refuses (SpaceTrust). Local sharing is the fallback."""
        status, answer = await self._upstream.pull(target, patient)
        if status in (404, 503) and isinstance(answer, dict):
            return web.json_response(answer, status=status)
        if status != 200 or not isinstance(answer, dict):  # the device's relay is not at fault
            log.warning("the upstream relay answered a pull with %s: %s", status, answer)
            return _error(502, "upstream_refused", f"the upstream relay answered {status}")
        sources = [str(s) for s in answer.get("from", [])]
        await target.documents_record(target.audit_event(
            "relay_pull", chart_id(patient), f"from {', '.join(sources)} (upstream)"))
        await asyncio.to_thread(self._server.registry.audit, clinic_id, "pull",
                                {"patient": patient, "from": sources, "upstream": True})
        return web.json_response({"id": patient, "from": sources})
