"""The API and the UI are two doors onto one clinic core: the same act through either leaves the
same documents and the same audit rows.

Each act runs twice, on two identical devices (same seed, same clock, same ids): once as a JSON
API request, once as a form posted by a logged-in user. Who acted (the API token or the user)
and the door's origin are the only differences allowed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from conflicts import add_conflict
from ui_service_helpers import PATIENT, Clock, make_service

import meshd.clinic.base
from meshd.api import create_api_app
from meshd.api.middleware import bearer_token_auth
from meshd.clinic import Clinic, local_day
from meshd.clinic_ui.mount import reader_middleware
from meshd.clinic_ui.service import NodeClinicService
from meshd.store.memory import MemoryStore
from ui.app import setup_ui
from ui.auth import hash_pin
from ui.clinical import LAB_TESTS

TOKEN = "same-act-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PIN = "135790"
STAFF = "Dawa"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Ids drawn before the act start from the same number on both devices.
ACT_IDS = 10_000
AUDIT_ROWS = 10_000


class Ids:
    """The core's uuid4 made deterministic: both devices draw the same ids in the same order."""

    def __init__(self) -> None:
        self.next = 1

    def __call__(self) -> uuid.UUID:
        self.next += 1
        return uuid.UUID(int=(self.next << 64) | 0x4000_8000_0000_0000, version=4)


@dataclass
class Device:
    """One device serving both doors on one aiohttp app, as a node does."""

    client: TestClient[Any, Any]
    service: NodeClinicService
    ids: Ids
    staff_id: str = ""
    audited: int = 0  # audit rows written before the act

    async def _about_to_act(self) -> None:
        self.audited = len(await self.clinic.store.audit_events(limit=AUDIT_ROWS))
        self.ids.next = ACT_IDS

    @property
    def clinic(self) -> Clinic:
        return self.service.clinic

    async def csrf(self, page: str) -> str:
        found = _CSRF.search(await (await self.client.get(page)).text())
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    async def form(self, path: str, data: dict[str, str], page: str) -> int:
        token = await self.csrf(page)
        await self._about_to_act()
        response = await self.client.post(path, data={**data, "csrf": token},
                                          allow_redirects=False)
        return response.status

    async def api(self, path: str, body: dict[str, Any]) -> int:
        await self._about_to_act()
        response = await self.client.post(path, json=body, headers=AUTH)
        return response.status


@asynccontextmanager
async def device(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Device]:
    ids = Ids()  # the core's ids only: the UI's own request handling may draw uuids too
    monkeypatch.setattr(meshd.clinic.base, "uuid", SimpleNamespace(uuid4=ids))
    async with MemoryStore() as store:
        service = make_service(store, clock)
        app = create_api_app(service.clinic, bearer_token_auth(TOKEN))
        setup_ui(app, service)
        app.middlewares.append(reader_middleware)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            made = Device(client, service, ids)
            admin = await service.set_up_facility("Kibera Health Post", "Amina",
                                                  hash_pin(PIN), "en")
            staff = await service.add_user(STAFF, ("clinician", "pharmacy", "lab"),
                                           hash_pin(PIN), "en", by=admin.id)
            made.staff_id = staff.id
            yield made


async def log_in(made: Device) -> None:
    token = await made.csrf("/login")
    response = await made.client.post("/login", data={"name": STAFF, "pin": PIN, "csrf": token},
                                      allow_redirects=False)
    assert response.status == 303


async def outcome(made: Device, patient: str) -> dict[str, Any]:
    """The act's audit rows, then the documents it could touch (who acted made anonymous)."""
    rows = await made.clinic.store.audit_events(limit=AUDIT_ROWS)
    act_rows = [{k: v for k, v in asdict(r).items() if k != "origin"}  # the door differs
                for r in reversed(rows[: len(rows) - made.audited])]
    day = local_day(made.clinic.now_ms())
    found = {
        "audit": act_rows,
        "chart": await made.clinic.chart(patient, made.service.writer("test")),
        "queue": [asdict(r) for r in await made.clinic.queue_rows(day)],
        "stock": await made.clinic.stock(),
        "prescriptions": await made.clinic.pending_prescriptions(),
        "lab_orders": await made.clinic.pending_lab_orders(),
        "reviews": await made.clinic.review_rows(),
    }
    text = json.dumps(found, sort_keys=True)
    for who in (made.staff_id, "api"):
        text = text.replace(f'"{who}"', '"<who acted>"')
    return dict(json.loads(text))


Seed = Callable[[Device], Awaitable[tuple[str, dict[str, str]]]]


async def same_through_both_doors(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, seed: Seed,
    by_api: Callable[[Device, str, dict[str, str]], Awaitable[int]],
    by_form: Callable[[Device, str, dict[str, str]], Awaitable[int]],
) -> dict[str, Any]:
    results = []
    for act in (by_api, by_form):
        async with device(clock, monkeypatch) as made:
            patient, facts = await seed(made)
            await log_in(made)
            status = await act(made, patient, facts)
            assert status in (200, 201, 303), status
            results.append(await outcome(made, patient))
    through_api, through_ui = results
    # Compared line by line, so a difference shows where it is.
    assert _lines(through_api) == _lines(through_ui)
    return through_api


def _lines(found: dict[str, Any]) -> list[str]:
    return json.dumps(found, indent=1, sort_keys=True).splitlines()


async def _patient(made: Device) -> str:
    admin = made.service.writer("seed")
    patient = await made.clinic.register_patient(PATIENT, admin)
    await made.clinic.check_in(patient, admin)
    return patient


@pytest.mark.asyncio
async def test_dispensing_the_last_quantity_is_the_same_through_the_api_and_the_ui(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed(made: Device) -> tuple[str, dict[str, str]]:
        by = made.service.writer("seed")
        patient = await _patient(made)
        drug = await made.clinic.add_drug({"name": "Paracetamol 500 mg", "unit": "tablet"}, by)
        await made.clinic.receive_stock({"drug_id": drug, "quantity": 30}, by)
        rx = await made.clinic.prescribe(patient, {
            "drug": "Paracetamol 500 mg", "drug_id": drug, "dose": 1, "dose_unit": "tablet",
            "route": "oral", "frequency": "3x/day", "duration_days": 3, "quantity": 10}, by)
        await made.clinic.dispense(patient, {"prescription_id": rx, "drug_id": drug,
                                             "quantity": 4}, by)
        await made.clinic.move_patient(patient, "pharmacy", by)
        return patient, {"prescription_id": rx, "drug_id": drug, "quantity": "6"}

    async def by_api(made: Device, patient: str, facts: dict[str, str]) -> int:
        return await made.api(f"/api/v1/patients/{patient}/dispense",
                              {**facts, "quantity": int(facts["quantity"])})

    async def by_form(made: Device, patient: str, facts: dict[str, str]) -> int:
        return await made.form("/pharmacy/dispense", {**facts, "patient_id": patient},
                               "/pharmacy")

    after = await same_through_both_doors(clock, monkeypatch, seed, by_api, by_form)
    assert [a["action"] for a in after["audit"]] == ["dispense"]
    assert [r["station"] for r in after["queue"]] == ["done"], "nothing left: the patient is done"
    assert after["prescriptions"] == [] and after["stock"]["paracetamol-500-mg"]["level"] == 20


@pytest.mark.asyncio
async def test_ordering_a_lab_test_is_the_same_through_the_api_and_the_ui(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed(made: Device) -> tuple[str, dict[str, str]]:
        return await _patient(made), {"code": "malaria_rdt"}

    async def by_api(made: Device, patient: str, facts: dict[str, str]) -> int:
        test = LAB_TESTS[facts["code"]][0]
        return await made.api(f"/api/v1/patients/{patient}/lab-orders",
                              {"test": test, "code": facts["code"]})

    async def by_form(made: Device, patient: str, facts: dict[str, str]) -> int:
        return await made.form(f"/patients/{patient}/lab-orders", {"test": facts["code"]},
                               f"/patients/{patient}")

    after = await same_through_both_doors(clock, monkeypatch, seed, by_api, by_form)
    assert [a["action"] for a in after["audit"]] == ["order_lab"]
    [order] = after["lab_orders"]
    [encounter] = after["chart"]["encounters"]
    assert order["encounter_id"] == encounter["id"], "the order joins today's visit"


@pytest.mark.asyncio
async def test_resolving_a_review_item_is_the_same_through_the_api_and_the_ui(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed(made: Device) -> tuple[str, dict[str, str]]:
        patient = await _patient(made)
        item = await add_conflict(made.service, patient, "family_name",
                                  [("Otiena", "juma", "tablet-1"), ("Otiende", "neema", "pc")])
        [row] = await made.clinic.review_rows()
        choice = next(c["choice"] for c in row["candidates"] if c["value"] == "Otiende")
        return patient, {"item": item, "choice": str(choice), "value": "Otiende",
                         "note": "checked the ID card"}

    async def by_api(made: Device, patient: str, facts: dict[str, str]) -> int:
        return await made.api(f"/api/v1/patients/{patient}/review/{facts['item']}/resolve",
                              {"choice": facts["choice"], "note": facts["note"]})

    async def by_form(made: Device, patient: str, facts: dict[str, str]) -> int:
        return await made.form(f"/review/{facts['item']}",
                               {"value": facts["value"], "note": facts["note"]}, "/review")

    after = await same_through_both_doors(clock, monkeypatch, seed, by_api, by_form)
    assert [a["action"] for a in after["audit"]] == ["resolve_review"]
    assert after["reviews"] == [] and after["chart"]["demographics"]["family_name"] == "Otiende"
    assert "checked the ID card" in json.dumps(after["chart"])
