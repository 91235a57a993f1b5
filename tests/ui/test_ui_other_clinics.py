"""A patient who presents here first: the registration desk searches the other clinics through
the central relay and brings the chart here. The relay is faked at the I/O edge only (its API
answers, and the chart then arriving as sync would deliver it); the UI adapter, the clinic
core and its audit are the real ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from ui_helpers import IDLE_LOCK_S, LOCKOUT_S, PIN_KEY, Clock, add_user, log_in, post, set_up

from crdt_model import chart
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd.clinic_ui.service import NodeClinicService
from meshd.docs import Documents
from meshd.relay.patients import RelayPatients
from ui.app import create_ui_app

PATIENT = {"given_name": "Wanjiru", "family_name": "Kamau", "sex": "female",
           "birth_date": "1987-03-14", "village": "Kisoro"}
PID = str(uuid.uuid4())


class FakeRelay:
    """The relay's API as the link would carry it; a pull then delivers the chart by 'sync'."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents
        self.calls: list[tuple[str, str]] = []
        self.reachable = True
        self.upstream: str | None = None  # a district relay's answer names its upstream's state
        self._arrivals: set[asyncio.Task[Any]] = set()

    async def call(self, method: str, path: str) -> tuple[int, Any]:
        self.calls.append((method, path))
        if not self.reachable:
            return 503, {"error": "unavailable", "message": "down"}
        if method == "GET":
            found = {"results": [{"id": PID, **PATIENT, "clinic": "Clinic A"}]}
            return 200, found if self.upstream is None else {**found, "upstream": self.upstream}
        doc = chart.register_patient(PID, PATIENT, Author("aa" * 8, "nurse", 1_000), "2026-11-29")
        task = asyncio.create_task(self.documents.apply_remote(chart_id(PID), doc.save(),
                                                               "relay"))
        self._arrivals.add(task)
        return 200, {"id": PID, "from": ["Clinic A"]}


@pytest_asyncio.fixture
async def linked(clinic: NodeClinicService, clock: Clock
                 ) -> AsyncIterator[tuple[TestClient, FakeRelay, NodeClinicService]]:
    relay = FakeRelay(clinic.clinic.docs)
    service = NodeClinicService(
        clinic.clinic, relay_patients=RelayPatients(relay, clinic.clinic, clinic.clinic.docs),
        sync_report=lambda: {"peers": [], "relay": {"url": "https://relay.example",
                                                    "state": "connected"}})
    app = create_ui_app(service, clock=clock, idle_lock_s=IDLE_LOCK_S, lockout_s=LOCKOUT_S,
                        pin_key=PIN_KEY)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, relay, service


@pytest.mark.asyncio
async def test_the_desk_finds_a_patient_of_another_clinic_and_brings_the_chart_here(
    linked: tuple[TestClient, FakeRelay, NodeClinicService],
) -> None:
    client, relay, service = linked
    await set_up(service)
    await add_user(service, "Baraka", "registration")
    await log_in(client, "Baraka")
    page = await (await client.get("/patients?q=Wanjiru")).text()
    assert "Nobody found" in page and "/patients/other?q=Wanjiru" in page
    page = await (await client.get("/patients/other?q=Wanjiru")).text()
    assert "Wanjiru Kamau" in page and "Clinic: Clinic A" in page
    brought = await post(client, f"/patients/{PID}/bring", {}, "/patients/other?q=Wanjiru")
    assert brought.status == 303 and brought.headers["Location"] == f"/patients/{PID}"
    assert relay.calls[-1] == ("POST", f"/relay/v1/patients/{PID}/pull")
    audit = await service.clinic.store.audit_events(limit=10)
    assert {"relay_search", "relay_pull"} <= {row.action for row in audit}
    page = await (await client.get("/patients?q=Wanjiru")).text()
    assert "Nobody found" not in page  # the chart is in this clinic now

    assert "only the clinics of this district" not in page
    relay.upstream = "reached"
    page = await (await client.get("/patients/other?q=Wanjiru")).text()
    assert "only the clinics of this district" not in page
    relay.upstream = "unreachable"  # a district relay whose national relay is down
    page = await (await client.get("/patients/other?q=Wanjiru")).text()
    assert "only the clinics of this district were searched" in page and "Wanjiru Kamau" in page

    relay.reachable = False
    page = await (await client.get("/patients/other?q=Amina")).text()
    assert "can't be reached now" in page
