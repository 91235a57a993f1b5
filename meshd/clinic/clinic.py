"""Clinic: everything this device does for its clinic, whichever door asks (API, UI, CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from crdt_model.attachments import photo_type
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
                    today: date | str | None = None, photo: tuple[bytes, str] | None = None,
                    ) -> str:
        """A walk-in at the desk: register the patient (with their `photo`, (bytes, file
        name), taken at the desk), then check them in for triage today. Returns the patient
        id. A photo that is not an image or is over the limit registers nothing."""
        kind = ""
        if photo is not None:
            await self.allow(caller, "attach")
            kind = photo_type(photo[0])
        patient_id = await self.register_patient(data, caller, today)
        if photo is not None:
            await self.add_attachment(patient_id, photo[0], kind, photo[1] or "photo", caller,
                                      "photo")
        await self.check_in(patient_id, caller, today if isinstance(today, str) else None)
        return patient_id
