"""The consultation: structured sections in today's visit, a follow-up day that lists the
patient on that day's queue page, referrals (their letter is printed from the chart), and the
follow-ups expected on a day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crdt_model import chart
from crdt_model.consultation import check_follow_up, consultation_entry, referral_entry
from crdt_model.ids import check_day
from meshd.clinic import actions
from meshd.clinic.base import Caller
from meshd.clinic.clinical import Clinical
from meshd.clinic.projections import FOLLOW_UPS

MAX_FOLLOW_UPS = 500  # patients expected back on one day: a page holds them all


class Consultations(Clinical):
    """Consultation sections, follow-ups and referrals, each audited."""

    async def record_consultation(self, patient_id: str, data: Mapping[str, Any],
                                  caller: Caller) -> str:
        """Presenting complaint, history, examination, plan (and a follow-up day after today)
        in today's visit; returns the entry id."""
        await self.allow(caller, "consult")
        clean = consultation_entry(data)
        if "follow_up" in clean:
            check_follow_up(clean["follow_up"], self.today().isoformat())
        return await self.visit_entry(patient_id, actions.CONSULTATION, chart.record_consultation,
                                      consultation_entry, data, caller)

    async def refer(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Refer the patient {to, reason} from today's visit; returns the referral's id."""
        await self.allow(caller, "consult")
        return await self.visit_entry(patient_id, actions.REFER, chart.refer, referral_entry,
                                      data, caller)

    async def follow_ups(self, day: str, caller: Caller) -> list[dict[str, Any]]:
        """Patients whose consultation asked them back on `day` (YYYY-MM-DD), by name."""
        await self.allow(caller, "queue")
        day = check_day(day, "day")
        rows = await self.store.worklist(FOLLOW_UPS, day, day, limit=MAX_FOLLOW_UPS)
        return sorted((dict(r.row) for r in rows),
                      key=lambda r: (r["family_name"].casefold(), r["given_name"].casefold()))
