"""The lab worklist by the test catalogue (issue 13, defect 10): a rapid test is chosen from its
words, a number gets its unit, range and flag on the chart, and a critical result is flagged in
the queue."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from test_ui_forms import error_next_to
from ui_helpers import add_user, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService

TODAY = "2026-03-10"


@pytest.mark.asyncio
async def test_results_are_entered_by_their_type_and_flagged(
    client: TestClient, clinic: NodeClinicService,
) -> None:
    await set_up(clinic)
    pid = await clinic.register_patient(
        {"given_name": "Amina", "family_name": "Bello", "sex": "female",
         "birth_date": "1990-02-03"}, TODAY, by="")
    await clinic.check_in(pid, TODAY, by="")
    malaria = await clinic.order_lab(pid, {"test": "Malaria rapid test", "code": "malaria_rdt"},
                                     by="")
    hb = await clinic.order_lab(pid, {"test": "Haemoglobin", "code": "hb"}, by="")
    await add_user(clinic, "Baraka", "lab")
    await log_in(client, "Baraka")
    page = await (await client.get("/lab")).text()
    choices = re.search(rf'<select id="v-{malaria}" name="value">(.*?)</select>', page, re.S)
    assert choices and re.findall(r'value="(\w*)"', choices.group(1)) == [
        "", "positive", "negative", "invalid"]
    assert 'name="interpretation"' not in page.split(f'v-{hb}')[1].split("</form>")[0]
    response = await post(client, f"/lab/{pid}/{hb}", {"code": "hb", "value": "low"},
                          page="/lab")
    assert error_next_to(await response.text(), f"{hb}-value") == "Please write a number."
    response = await post(client, f"/lab/{pid}/{malaria}",
                          {"code": "malaria_rdt", "value": "positive"}, page="/lab")
    assert response.status == 303
    response = await post(client, f"/lab/{pid}/{hb}", {"code": "hb", "value": "6,2"},
                          page="/lab")
    assert response.status == 303

    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")
    chart = await (await client.get(f"/patients/{pid}")).text()
    assert re.search(r'class="result positive">Positive<', chart)
    assert re.search(r'class="result critical">6.2 g/dL <span class="flag">Critical</span> '
                     r'<span class="muted">\(normal: 12–15.5\)', chart)
    queue = await (await client.get("/queue")).text()
    assert "Critical result: Haemoglobin" in queue
