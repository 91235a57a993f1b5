"""Clinic: everything this device does for its clinic, whichever door asks (API, UI, CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from meshd.clinic.attachments import Attachments
from meshd.clinic.base import Caller
from meshd.clinic.consultation import Consultations
from meshd.clinic.registration import Registration
from meshd.clinic.reports import Reporting


class Clinic(Reporting, Registration, Attachments, Consultations):
    """Registration, clinical care, laboratory, pharmacy and stock, patient flow,
    administration, reports and attachments of this device's clinic, on its documents and read
    model, audited."""

    async def admit(self, data: Mapping[str, Any], caller: Caller,
                    today: date | str | None = None) -> str:
        """A walk-in at the desk: register the patient, then check them in for triage today.
        Returns the patient id."""
        patient_id = await self.register_patient(data, caller, today)
        await self.check_in(patient_id, caller, today if isinstance(today, str) else None)
        return patient_id
