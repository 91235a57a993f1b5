"""Charts follow patients across tiers: a district relay's clinic searches and pulls through
the national (upstream) relay as well as through its own relay.

The district asks the upstream's patient API on the clinic's behalf, as the clinic's tier
clinic there (`DISTRICT/CLINIC`, its id and derived secret: UpstreamLink.call), so the upstream
checks and audits the access as that clinic's, and copies a pulled chart into that clinic's
space upstream; the chart then comes down the tier link into the district's space of the clinic
and on to its devices, as any change from upstream does (docs/ARCHITECTURE.md "Tiers"). Nothing
here waits on the upstream beyond a bound, and an upstream that is down costs nothing: the
district answers with its own results and says the upstream was unreachable.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

from crdt_model.ids import chart_id
from meshd.relay.link import CONNECTED, RelayUnavailable
from meshd.relay.space import ClinicSpace
from meshd.relay.upstream import Upstream
from meshd.sync.ports import Heads

log = logging.getLogger(__name__)

SEARCH_TIMEOUT_S = 5.0  # well inside a device's own wait for its relay (link.API_TIMEOUT_S)
PULL_TIMEOUT_S = 5.0
ARRIVAL_WAIT_S = 5.0  # a pulled chart coming down the tier link into the district
REACHED, UNREACHABLE, REFUSED = "reached", "unreachable", "refused"


class UpstreamPatients:
    """Search and pull of one relay's clinics through its upstream relay."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    def has_upstream(self, clinic_id: str) -> bool:
        """Whether the clinic's space is linked (or linking) upstream."""
        link = self._upstream.links.get(clinic_id)
        return link is not None and link.credential is not None

    async def search(self, clinic_id: str, query: str) -> tuple[list[dict[str, Any]], str | None]:
        """The upstream's results for the clinic's search, and REACHED, UNREACHABLE or REFUSED
        (the tier credential was revoked; None: this relay has no upstream). An upstream this
        clinic is not linked to now is not even asked."""
        link = self._upstream.links.get(clinic_id)
        if link is None or link.credential is None:
            return [], None
        if link.state != CONNECTED:
            return [], UNREACHABLE
        try:
            status, answer = await link.call("GET", f"/relay/v1/patients?q={quote(query)}",
                                             SEARCH_TIMEOUT_S)
        except RelayUnavailable as exc:
            log.info("searching the upstream relay failed: %s", exc)
            return [], UNREACHABLE
        if status != 200 or not isinstance(answer, dict):
            log.warning("the upstream relay answered a search with %s: %s", status, answer)
            return [], REFUSED if status in (401, 403) else UNREACHABLE
        return [r for r in answer.get("results", [])
                if isinstance(r, dict) and isinstance(r.get("id"), str)], REACHED

    async def pull(self, space: ClinicSpace, patient: str) -> tuple[int, Any]:
        """Ask the upstream to share the chart with the clinic's space there, then wait
        (bounded) until it has come down the tier link into `space`; the upstream's (status,
        answer), or 503 when it can't be reached."""
        link = self._upstream.links.get(space.clinic.id)
        if link is None or link.credential is None:
            return 404, {"error": "not_found", "message": "no relay holds that chart"}
        if link.state != CONNECTED:
            return 503, {"error": "relay_unavailable",
                         "message": "the upstream relay can't be reached now"}
        assert space.documents is not None
        doc_id, came = chart_id(patient), asyncio.Event()

        async def heard(changed: str, heads: Heads, origin: str) -> None:
            if changed == doc_id:
                came.set()

        unsubscribe = space.documents.subscribe(heard)
        try:
            try:
                status, answer = await link.call("POST", f"/relay/v1/patients/{patient}/pull",
                                                 PULL_TIMEOUT_S)
            except RelayUnavailable as exc:
                return 503, {"error": "relay_unavailable", "message": exc.message}
            if status == 200 and await space.store.read(doc_id) is None:
                try:
                    async with asyncio.timeout(ARRIVAL_WAIT_S):
                        await came.wait()
                except TimeoutError:  # the device waits on; a slow link answers 202 there
                    log.info("%s not down from the upstream yet", doc_id)
            return status, answer
        finally:
            unsubscribe()
