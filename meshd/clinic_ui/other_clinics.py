"""The UI's door to other clinics' patients, through the central relay (meshd.relay.patients)."""

from __future__ import annotations

from crdt_model.errors import ClinicMeshError
from meshd.clinic_ui.base import ServiceBase
from ui.other_clinics import OtherClinicsFound, OtherPatient


class NoRelay(ClinicMeshError):
    """This device has no relay to ask (no link, or not a running node)."""

    code = "relay_unavailable"


class OtherClinics(ServiceBase):
    """Searching other clinics and bringing a chart here."""

    async def search_other_clinics(self, query: str, by: str) -> OtherClinicsFound:
        """Patients of the other clinics on the central relay (and its upstream's)."""
        if self.relay_patients is None:
            raise NoRelay("this device can't reach a central relay")
        found, upstream = await self.relay_patients.search_tiers(query, self.writer(by))
        return OtherClinicsFound(tuple(
            OtherPatient(str(r["id"]), str(r.get("given_name") or ""),
                         str(r.get("family_name") or ""), r.get("birth_date"), r.get("village"),
                         str(r.get("clinic") or "")) for r in found),
            upstream_unreachable=upstream not in (None, "reached"))

    async def bring_chart_here(self, patient_id: str, by: str) -> bool:
        """Pull another clinic's chart into this clinic; whether it is here already."""
        if self.relay_patients is None:
            raise NoRelay("this device can't reach a central relay")
        here, _sources = await self.relay_patients.pull(patient_id, self.writer(by))
        return here
