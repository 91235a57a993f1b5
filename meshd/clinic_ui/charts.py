"""Patients and their charts for the UI: each method calls the clinic core once and turns its
answer into the UI's records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshd.clinic import actions
from meshd.clinic_ui.base import ServiceBase
from meshd.clinic_ui.history import history
from meshd.clinic_ui.records import patient_summary, to_chart
from ui.records import Chart, HistoryEntry, PatientSummary


class Charts(ServiceBase):
    """Patient search, registration, charts and their entries."""

    async def search_patients(self, query: str, limit: int = 20) -> list[PatientSummary]:
        """Patients matching name, phone, id or village, tolerant of spelling, best first."""
        rows = await self.clinic.search_patients(query, self.reader(), limit)
        return [patient_summary(str(row["id"]), row) for row in rows]

    async def register_patient(self, demographics: Mapping[str, Any], today: str, by: str) -> str:
        """A new chart from `validate.registration` input; returns the patient id."""
        return await self.clinic.register_patient(demographics, self.writer(by), today)

    async def admit_patient(self, demographics: Mapping[str, Any], today: str, by: str,
                            photo: tuple[bytes, str] | None = None) -> str:
        """A walk-in: a new chart (with its photo), checked in for triage today; its id."""
        return await self.clinic.admit(demographics, self.writer(by), today, photo)

    async def likely_duplicates(
        self, demographics: Mapping[str, Any], today: str
    ) -> list[PatientSummary]:
        """Patients who may be the one about to be registered (similar name, same phone)."""
        rows = await self.clinic.likely_duplicates(demographics, self.reader(), today)
        return [patient_summary(str(row["id"]), row) for row in rows]

    async def update_demographics(
        self, patient_id: str, changes: Mapping[str, Any], by: str
    ) -> None:
        """Write the changed demographic fields (conflicts reach the review queue)."""
        await self.clinic.update_demographics(patient_id, changes, self.writer(by))

    async def record_consultation(self, patient_id: str, sections: Mapping[str, Any],
                                  by: str) -> str:
        """Record the consultation's sections in today's visit; returns the entry id."""
        return await self.clinic.record_consultation(patient_id, sections, self.writer(by))

    async def refer(self, patient_id: str, referral: Mapping[str, Any], by: str) -> str:
        """Record a referral in today's visit; returns its id."""
        return await self.clinic.refer(patient_id, referral, self.writer(by))

    async def add_attachment(self, patient_id: str, data: bytes, content_type: str, name: str,
                             purpose: str, by: str) -> str:
        """Store a photo or document and reference it on the chart; returns its SHA-256."""
        added = await self.clinic.add_attachment(patient_id, data, content_type, name,
                                                 self.writer(by), purpose)
        return str(added["sha256"])

    async def attachment(self, sha256: str, by: str) -> tuple[bytes, str]:
        """An attachment's bytes and content type."""
        return await self.clinic.attachment(sha256, self.reader(by))

    async def link_duplicate(self, patient_id: str, survivor_id: str, by: str) -> None:
        """Merge the chart `patient_id` into `survivor_id` (both keep every entry, linked)."""
        await self.clinic.link_duplicate(patient_id, survivor_id, self.writer(by))

    async def get_chart(self, patient_id: str, by: str = "") -> Chart:
        """The whole chart; NotFound when unknown here. The read is audit-logged for `by`."""
        found = await self.clinic.chart_record(patient_id, self.reader(by))
        return to_chart(found.root, found.names)

    async def chart_history(self, patient_id: str, by: str = "") -> list[HistoryEntry]:
        """Every change of the chart, oldest first: who, when, which device (audited)."""
        found = await self.clinic.chart_record(patient_id, self.reader(by), actions.HISTORY)
        return history(found.root, found.names)

    async def record_triage(self, patient_id: str, triage: Mapping[str, Any], by: str) -> str:
        """Add a triage entry (the core checks the patient in and sends them on)."""
        return await self.clinic.record_triage(patient_id, triage, self.writer(by))

    async def add_allergy(self, patient_id: str, allergy: Mapping[str, Any], by: str) -> str:
        """Add an allergy entry."""
        return await self.clinic.add_allergy(patient_id, allergy, self.writer(by))

    async def allergens(self) -> list[tuple[str, str]]:
        """(name, ATC code) of the medicines an allergy can be recorded against."""
        return await self.clinic.allergens()

    async def add_note(self, patient_id: str, note: Mapping[str, Any], by: str) -> str:
        """Add a note entry."""
        return await self.clinic.add_note(patient_id, note, self.writer(by))

    async def add_diagnosis(self, patient_id: str, diagnosis: Mapping[str, Any], by: str) -> str:
        """Add a diagnosis entry (ICD-10 code and label) in today's visit."""
        return await self.clinic.add_diagnosis(patient_id, diagnosis, self.writer(by))

    async def prescribe(self, patient_id: str, prescription: Mapping[str, Any], by: str) -> str:
        """Add a prescription entry in today's visit."""
        return await self.clinic.prescribe(patient_id, prescription, self.writer(by))

    async def order_lab(self, patient_id: str, order: Mapping[str, Any], by: str) -> str:
        """Add a lab order entry in today's visit."""
        return await self.clinic.order_lab(patient_id, order, self.writer(by))

    async def record_lab_result(self, patient_id: str, result: Mapping[str, Any], by: str) -> str:
        """Add a lab result answering an order (NotFound when the order is not in the chart)."""
        return await self.clinic.record_lab_result(patient_id, result, self.writer(by))

    async def void_entry(self, patient_id: str, entry_id: str, reason: str, by: str) -> None:
        """Mark an entry as entered in error (kept and shown struck through)."""
        await self.clinic.void_entry(patient_id, entry_id, reason, self.writer(by))

    async def dispense(self, patient_id: str, dispense: Mapping[str, Any], by: str) -> str:
        """Record a dispensation on the chart and −quantity on the stock ledger, together."""
        return await self.clinic.dispense(patient_id, dispense, self.writer(by))

    async def resolve_review(self, item_id: str, value: str, note: str, by: str) -> None:
        """Keep `value` for the field and record who chose it and why (a note on the chart)."""
        await self.clinic.resolve_review(item_id, value, self.writer(by), note=note)
