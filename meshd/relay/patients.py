"""Other clinics' patients, through the relay: what the API (`/api/v1/relay/patients…`) and the
UI both call. A search asks the relay; a pull asks the relay to bring the chart into this
clinic's space and waits (bounded) for it to arrive here by sync. Both are audited in this
device's store by the clinic core (and on the relay, by the relay)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol
from urllib.parse import quote

from crdt_model.errors import ClinicMeshError
from crdt_model.ids import chart_id, check_uuid
from meshd.clinic import Caller, Clinic, actions
from meshd.docs import Documents

PULL_WAIT_S = 10.0
RESULT_FIELDS = ("id", "given_name", "family_name", "birth_date", "village", "clinic")


class RelayClient(Protocol):
    """The relay's API as the link offers it (meshd.relay.link.RelayLink.call)."""

    async def call(self, method: str, path: str) -> tuple[int, Any]:
        """One request with the clinic's credential; (status, JSON answer)."""
        ...


class RelayRefused(ClinicMeshError):
    """The relay answered with an error (`status`, its JSON `answer`)."""

    code = "relay_refused"

    def __init__(self, status: int, answer: Any) -> None:
        message = answer.get("message") if isinstance(answer, dict) else None
        super().__init__(str(message or f"the relay answered {status}"))
        self.status, self.answer = status, answer


class RelayPatients:
    """Search other clinics and pull a chart here."""

    def __init__(self, relay: RelayClient, clinic: Clinic, documents: Documents) -> None:
        self._relay = relay
        self._clinic = clinic
        self._documents = documents

    async def search(self, query: str, caller: Caller) -> list[dict[str, Any]]:
        """Patients of every clinic on the relay matching `query` (name, village, card id)."""
        return (await self.search_tiers(query, caller))[0]

    async def search_tiers(self, query: str, caller: Caller
                           ) -> tuple[list[dict[str, Any]], str | None]:
        """`search`, and whether the relay's upstream relay answered too ("reached",
        "unreachable"; None: the relay has none)."""
        status, answer = await self._relay.call("GET", f"/relay/v1/patients?q={quote(query)}")
        if status != 200 or not isinstance(answer, dict):
            raise RelayRefused(status, answer)
        results = [{k: r.get(k) for k in RESULT_FIELDS} for r in answer.get("results", [])
                   if isinstance(r, dict)]
        upstream = answer.get("upstream")
        upstream = upstream if isinstance(upstream, str) else None
        said = f", upstream {upstream}" if upstream else ""
        await self._clinic.audit_relay(actions.RELAY_SEARCH, "",
                                       f"q={query!r}: {len(results)} results{said}", caller)
        return results, upstream

    async def pull(self, patient_id: str, caller: Caller) -> tuple[bool, list[str]]:
        """Bring the chart into this mesh; (whether it is here now, clinics it came from)."""
        patient = check_uuid(patient_id, "id")
        doc_id = chart_id(patient)
        came = asyncio.Event()

        def heard(changed: str, heads: object, origin: str) -> None:
            if changed == doc_id:
                came.set()

        unsubscribe = self._documents.subscribe(heard)
        try:
            status, answer = await self._relay.call("POST", f"/relay/v1/patients/{patient}/pull")
            if status != 200 or not isinstance(answer, dict):
                raise RelayRefused(status, answer)
            sources = [str(s) for s in answer.get("from", [])]
            await self._clinic.audit_relay(actions.RELAY_PULL, doc_id,
                                           f"from {', '.join(sources)}", caller)
            if not await self._documents.exists(doc_id):
                try:
                    async with asyncio.timeout(PULL_WAIT_S):
                        await came.wait()
                except TimeoutError:
                    return False, sources
            return True, sources
        finally:
            unsubscribe()
