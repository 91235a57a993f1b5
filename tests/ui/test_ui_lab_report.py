"""A printable lab result: one order's results with value, unit, the reference range for the
patient's sex and age and the flag, a corrected result kept struck through; the chart links to
it once a result is in."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import Clock, add_user, log_in, set_up

from meshd.clinic_ui.service import NodeClinicService

TODAY = "2026-03-10"


@pytest.mark.asyncio
async def test_a_haemoglobin_result_prints_with_its_range_and_flag(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    await set_up(clinic)
    pid = await clinic.register_patient(
        {"given_name": "Amina", "family_name": "Bello", "sex": "female",
         "birth_date": "1990-02-03"}, TODAY, by="")
    await clinic.check_in(pid, TODAY, by="")
    hb = await clinic.order_lab(pid, {"test": "Haemoglobin", "code": "hb"}, by="")
    pending = await clinic.order_lab(pid, {"test": "Blood glucose", "code": "glucose"}, by="")
    first = await clinic.record_lab_result(pid, {"order_id": hb, "value": 9.1}, by="")
    await clinic.void_entry(pid, first, "sample haemolysed", by="")
    clock.advance(60)  # the repeat test comes later (same-millisecond results sort by id)
    await clinic.record_lab_result(pid, {"order_id": hb, "value": 6.2}, by="")
    await add_user(clinic, "Daktari", "clinician")
    await log_in(client, "Daktari")

    chart = await (await client.get(f"/patients/{pid}")).text()
    assert f'href="/patients/{pid}/lab/{hb}"' in chart
    assert f'href="/patients/{pid}/lab/{pending}"' not in chart
    page = await (await client.get(f"/patients/{pid}/lab/{hb}")).text()
    for shown in ("Laboratory result: Haemoglobin", "Amina Bello", "6.2 g/dL",
                  "12–15.5 g/dL", "Critical", "Voided: sample haemolysed", "Print the result"):
        assert shown in page, shown
    assert page.index("6.2 g/dL") < page.index("9.1 g/dL"), "the latest result first"
    waiting = await (await client.get(f"/patients/{pid}/lab/{pending}")).text()
    assert "waiting for the result" in waiting
    missing = await client.get(f"/patients/{pid}/lab/{pid}")
    assert missing.status == 404
