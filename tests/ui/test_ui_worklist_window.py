"""Long worklists (issue 15, UI budget): the lab and the pharmacy show the oldest 50 items and
say how many more wait; `?all=1` shows them all, and a form error on any item still shows."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import add_user, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService
from ui.web import WORKLIST_WINDOW

TODAY = "2026-03-10"
WAITING = WORKLIST_WINDOW + 7


async def _waiting(clinic: NodeClinicService) -> tuple[list[tuple[str, str]], str]:
    """WAITING patients, each with a malaria test ordered and paracetamol prescribed."""
    await set_up(clinic)
    drug = await clinic.add_drug("Paracetamol 500 mg", "tablet", 100, by="")
    orders = []
    for i in range(WAITING):
        pid = await clinic.register_patient(
            {"given_name": f"Patient{i:02d}", "family_name": "Mwangi", "sex": "female",
             "birth_date": "1990-02-03"}, TODAY, by="")
        await clinic.check_in(pid, TODAY, by="")
        orders.append((pid, await clinic.order_lab(
            pid, {"test": "Haemoglobin", "code": "hb"}, by="")))
        await clinic.prescribe(pid, {
            "drug": "Paracetamol 500 mg", "drug_id": drug, "dose": 500, "dose_unit": "mg",
            "route": "oral", "frequency": "3x/day", "duration_days": 3, "quantity": 9}, by="")
    return orders, drug


def _forms(page: str, action: str) -> int:
    return len(re.findall(rf'<form method="post" action="{action}', page))


@pytest.mark.asyncio
async def test_long_worklists_show_the_oldest_and_say_how_many_more_wait(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    orders, _ = await _waiting(clinic)
    await add_user(clinic, "Baraka", "lab")
    await log_in(client, "Baraka")
    page = await (await client.get("/lab")).text()
    assert _forms(page, "/lab/") == WORKLIST_WINDOW
    assert "7 more waiting, oldest first." in page and 'href="/lab?all=1"' in page
    listed = [(o.patient_id, o.order_id) for o in await clinic.pending_lab_orders()]
    assert sorted(listed) == sorted(orders)
    assert all(f"/lab/{p}/{o}" in page for p, o in listed[:WORKLIST_WINDOW])  # oldest first
    assert not any(f"/lab/{p}/{o}" in page for p, o in listed[WORKLIST_WINDOW:])
    every = await (await client.get("/lab?all=1")).text()
    assert _forms(every, "/lab/") == WAITING and "more waiting" not in every
    assert 'data-live="/lab/table?all=1"' in every

    last_pid, last_order = listed[-1]  # beyond the window: its error must still be shown
    response = await post(client, f"/lab/{last_pid}/{last_order}",
                          {"code": "hb", "value": "low"}, page="/lab?all=1")
    assert response.status == 400
    assert f'id="v-{last_order}"' in await response.text()

    await add_user(clinic, "Neema", "pharmacy")
    await log_in(client, "Neema")
    page = await (await client.get("/pharmacy")).text()
    assert _forms(page, "/pharmacy/dispense") == WORKLIST_WINDOW
    assert "7 more waiting, oldest first." in page
    every = await (await client.get("/pharmacy?all=1")).text()
    assert _forms(every, "/pharmacy/dispense") == WAITING
