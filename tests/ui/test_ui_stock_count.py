"""A shelf count batch by batch: the stock card lists each batch in stock (number, expiry,
expected quantity) with a counted quantity to write; each batch that differs is adjusted by
the difference with the reason given; the pharmacy's stock table shows per-batch levels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import Clock, add_user, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService


async def _stocked(client: TestClient, clinic: NodeClinicService, clock: Clock) -> str:
    await set_up(clinic)
    drug = await clinic.add_drug("Amoxicillin 250 mg capsule", "capsule", 20, by="")
    day = clock.today()
    await clinic.receive_stock(drug, 100, "KEMSA", by="", batch="LATE-7",
                               expires=(day + timedelta(days=400)).isoformat())
    await clinic.receive_stock(drug, 30, "KEMSA", by="", batch="SOON-3",
                               expires=(day + timedelta(days=30)).isoformat())
    await clinic.receive_stock(drug, 5, "donation", by="")
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    return drug


def _row(page: str, batch: str) -> str:
    found = page[page.index(f'data-batch="{batch}"'):]
    return found[:found.index("</tr>")]


@pytest.mark.asyncio
async def test_a_count_per_batch_adjusts_each_batch_that_differs(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    drug = await _stocked(client, clinic, clock)
    page = await (await client.get(f"/pharmacy/stock/{drug}")).text()
    form = page[page.index('class="form-box stock-count"'):]
    # Soonest expiry first, each with its expected quantity and an empty count.
    assert form.index('value="SOON-3"') < form.index('value="LATE-7"') < form.index(
        "No batch number")
    assert '<td class="num">30</td>' in _row(form, "SOON-3")
    index = {b: i for i, b in enumerate(["SOON-3", "LATE-7", ""], start=1)}
    assert f'name="batch-{index["LATE-7"]}" value="LATE-7"' in form

    response = await post(client, f"/pharmacy/stock/{drug}/count", {
        f"batch-{index['SOON-3']}": "SOON-3", f"counted-{index['SOON-3']}": "27",
        f"batch-{index['LATE-7']}": "LATE-7", f"counted-{index['LATE-7']}": "100",
        f"batch-{index['']}": "", f"counted-{index['']}": "",
        "reason": "Monthly count: 3 capsules damaged"}, page=f"/pharmacy/stock/{drug}")
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == f"/pharmacy/stock/{drug}?counted=1#count"
    card = await clinic.stock_card(drug)
    assert {b.batch: b.level for b in card.batches} == {"SOON-3": 27, "LATE-7": 100, "": 5}
    [adjusted] = [m for m in card.movements if m.kind == "adjust"]
    assert (adjusted.quantity, adjusted.batches, adjusted.ref) == (
        -3, (("SOON-3", -3),), "Monthly count: 3 capsules damaged")
    assert {s.drug_id: s.level for s in await clinic.stock()}[drug] == 132
    shown = await (await client.get(response.headers["Location"])).text()
    assert "Count saved. Batches adjusted: 1." in shown

    pharmacy = await (await client.get("/pharmacy")).text()
    levels = pharmacy[pharmacy.index('class="batch-levels'):]
    levels = levels[:levels.index("</ul>")]
    assert "SOON-3" in levels and "<strong>27</strong>" in levels
    assert "LATE-7" in levels and "<strong>100</strong>" in levels
    assert "No batch number: <strong>5</strong>" in levels


@pytest.mark.asyncio
async def test_a_bad_count_or_no_reason_is_named_and_changes_nothing(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    drug = await _stocked(client, clinic, clock)
    response = await post(client, f"/pharmacy/stock/{drug}/count", {
        "batch-1": "SOON-3", "counted-1": "-4", "batch-2": "LATE-7", "counted-2": "many",
        "reason": ""}, page=f"/pharmacy/stock/{drug}")
    assert response.status == 400
    page = await response.text()
    assert 'id="e-counted-1"' in page and 'id="e-counted-2"' in page and 'id="e-reason"' in page
    assert "Please write a whole number of zero or more." in page
    response = await post(client, f"/pharmacy/stock/{drug}/count", {
        "batch-1": "NOT-A-BATCH", "counted-1": "4", "reason": "count"},
        page=f"/pharmacy/stock/{drug}")
    assert response.status == 400
    response = await post(client, f"/pharmacy/stock/{drug}/count", {
        "batch-1": "SOON-3", "counted-1": "", "reason": "count"}, page=f"/pharmacy/stock/{drug}")
    assert response.status == 400
    assert "Write what you counted of at least one batch." in await response.text()
    card = await clinic.stock_card(drug)
    assert [m.kind for m in card.movements] == ["receive"] * 3
    response = await post(client, "/pharmacy/stock/no-such-drug/count", {
        "batch-1": "", "counted-1": "1", "reason": "count"}, page=f"/pharmacy/stock/{drug}")
    assert response.status == 404
