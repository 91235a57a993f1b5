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
