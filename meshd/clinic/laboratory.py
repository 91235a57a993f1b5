"""The laboratory: lab orders, results, and the lab's worklist of orders waiting for a result.

A result sends a patient waiting at the lab back to consultation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crdt_model import chart, rules
from meshd.clinic import actions
from meshd.clinic.base import Caller, ClinicBase
from meshd.clinic.clinical import Clinical
from meshd.clinic.projections import LAB_ORDERS

# A worklist shows what is pending from the last WORKLIST_DAYS, at most WORKLIST_ROWS of it
# (oldest first): older unfinished items are old visits' leftovers, not today's work, and a page
# of thousands of rows is unusable (and slow: ~0.15 ms a row to render).
WORKLIST_DAYS = 30
WORKLIST_ROWS = 300
DAY_MS = 86_400_000


async def pending(clinic: ClinicBase, kind: str) -> list[dict[str, Any]]:
    """Rows of worklist `kind` from the last WORKLIST_DAYS, oldest first."""
    since = clinic.now_ms() - WORKLIST_DAYS * DAY_MS
    return [dict(w.row) for w in
            await clinic.store.worklist(kind, low=since, limit=WORKLIST_ROWS)]


class Laboratory(Clinical):
    """Ordering tests and recording their results."""

    async def order_lab(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Order a lab test in today's visit."""
        await self.allow(caller, "consult")
        return await self.visit_entry(patient_id, actions.ORDER_LAB, chart.order_lab,
                                      rules.lab_order_entry, data, caller)

    async def record_lab_result(self, patient_id: str, data: Mapping[str, Any], caller: Caller,
                                ) -> str:
        """Record a result answering an order; a patient waiting at the lab goes back to
        consultation."""
        await self.allow(caller, "lab")
        entry_id = await self.entry(patient_id, actions.LAB_RESULT, chart.record_lab_result,
                                    data, caller)
        await self.advance(patient_id, ("lab",), "consultation", caller)
        return entry_id

    async def pending_lab_orders(self) -> list[dict[str, Any]]:
        """Lab orders of recent visits without a result, oldest first."""
        return await pending(self, LAB_ORDERS)
