"""Batches in the pharmacy pages: stock received with a batch number and expiry date, given
out first-expiry-first-out, and a drug's stock card showing its batches (expired and
expiring soon flagged) and every movement with the level after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import Clock, add_user, log_in, post, set_up

from meshd.clinic_ui.service import NodeClinicService

PATIENT = {"given_name": "Neema", "family_name": "Mwangi", "sex": "female",
           "birth_date": "1987-06-12"}
PRESCRIPTION = {"drug": "Amoxicillin 250 mg capsule", "dose": 1, "dose_unit": "capsule",
                "route": "oral", "frequency": "3x/day", "duration_days": 5, "quantity": 15}


@pytest.mark.asyncio
async def test_received_batches_are_given_soonest_expiry_first_and_listed_on_the_card(
    client: TestClient, clinic: NodeClinicService, clock: Clock,
) -> None:
    await set_up(clinic)
    drug = await clinic.add_drug("Amoxicillin 250 mg capsule", "capsule", 20, by="")
    await add_user(clinic, "Dawa", "pharmacy")
    await log_in(client, "Dawa")
    day = clock.today()
    for batch, quantity, expires in (("LATE-7", 100, day + timedelta(days=400)),
                                     ("SOON-3", 10, day + timedelta(days=30)),
                                     ("GONE-1", 20, day - timedelta(days=2))):
        response = await post(client, "/pharmacy/receive", {
            "form": "receive", "drug_id": drug, "quantity": str(quantity), "batch": batch,
            "expires": expires.isoformat(), "note": "delivery from KEMSA"}, page="/pharmacy")
        assert response.status == 303, await response.text()
    patient = await clinic.register_patient(PATIENT, day.isoformat(), by="")
    rx = await clinic.prescribe(patient, {**PRESCRIPTION, "drug_id": drug}, by="")
    await clinic.dispense(patient, {"prescription_id": rx, "drug_id": drug, "quantity": 15},
                          by="")

    pharmacy = await (await client.get("/pharmacy")).text()
    assert f'href="/pharmacy/stock/{drug}"' in pharmacy
    alert = pharmacy[pharmacy.index('class="warning expiring"'):]
    alert = alert[:alert.index("</div>")]
    assert "Expired or expiring within 90 days" in alert
    assert "(GONE-1, expired on" in alert and "LATE-7" not in alert
    assert "SOON-3" not in alert, "a batch used up is not news"
    assert 'id="r-expires"' in pharmacy and 'type="date"' in pharmacy
    card = await (await client.get(f"/pharmacy/stock/{drug}")).text()
    assert "In stock: 115 capsule" in card
    gone = card[card.index('data-batch="GONE-1"'):]
    assert "Expired: do not give; return or destroy" in gone[:gone.index("</tr>")]
    assert card.index('data-batch="GONE-1"') < card.index('data-batch="SOON-3"') < card.index(
        'data-batch="LATE-7"')
    movements = card[card.index("Stock movements"):]
    assert "Dispensed" in movements and "SOON-3 (-10), LATE-7 (-5)" in movements
    assert "delivery from KEMSA" in movements and "Received" in movements
    missing = await client.get("/pharmacy/stock/no-such-drug")
    assert missing.status == 404
