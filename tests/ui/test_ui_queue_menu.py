"""The queue's "Send to" menu offers the next sensible station first (issue 13, defect 12): one
tap never sends a patient in consultation or at the pharmacy back to triage."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import add_user, log_in, set_up

from crdt_model.queue import next_station
from meshd.clinic_ui.service import NodeClinicService

TODAY = "2026-03-10"


def test_each_station_has_a_forward_next_station() -> None:
    assert [next_station(s) for s in ("registration", "triage", "consultation", "lab",
                                      "pharmacy")] == [
        "triage", "consultation", "pharmacy", "consultation", "done"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("station", "first"), [
    ("triage", "consultation"), ("consultation", "pharmacy"), ("lab", "consultation"),
    ("pharmacy", "done")])
async def test_the_send_to_menu_starts_with_the_next_station(
    client: TestClient, clinic: NodeClinicService, station: str, first: str,
) -> None:
    await set_up(clinic)
    pid = await clinic.register_patient(
        {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
         "estimated_age_years": 30}, TODAY, by="")
    await clinic.check_in(pid, TODAY, by="")
    if station != "triage":
        await clinic.move_patient(pid, TODAY, station, by="")
    await add_user(clinic, "Karani", "registration")
    await log_in(client, "Karani")
    page = await (await client.get("/queue")).text()
    menu = re.search(rf'<select id="to-{pid}" name="station">(.*?)</select>', page, re.S)
    assert menu, "no Send to menu"
    options = re.findall(r'<option value="(\w+)"', menu.group(1))
    assert options[0] == first and station not in options


@pytest.mark.asyncio
async def test_each_row_acts_on_its_own_patient(client: TestClient,
                                                clinic: NodeClinicService) -> None:
    """The station's buttons and menu are rendered once per station (the page's speed at 200
    waiting); every row must still name its own patient, in the page and the live table."""
    await set_up(clinic)
    waiting = []
    for name in ("Amina", "Juma", "Neema"):
        pid = await clinic.register_patient(
            {"given_name": name, "family_name": "Mwangi", "sex": "female",
             "estimated_age_years": 25}, TODAY, by="")
        await clinic.check_in(pid, TODAY, by="")
        waiting.append(pid)
    await add_user(clinic, "Muuguzi", "nurse")
    await log_in(client, "Muuguzi")
    for path in ("/queue", "/queue/table"):
        page = await (await client.get(path)).text()
        rows = re.findall(r'<li class="patient[^"]*" data-patient="([^"]+)">(.*?)</li>', page, re.S)
        assert sorted(pid for pid, _ in rows) == sorted(waiting)
        for pid, row in rows:
            assert re.findall(r'href="/patients/([^/"]+)/triage"', row) == [pid]
            assert re.findall(r'name="patient_id" value="([^"]+)"', row) == [pid]
            assert re.search(r'name="csrf" value="[^"]+"', row)
            assert '<option value="consultation" selected>' in row
