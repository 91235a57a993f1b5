"""The web UI's pages over the real service: a clinic day through the forms, and `meshd run`
serving the first-run page beside the JSON API (whose bearer token still guards /api/v1)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from ui_service_helpers import PATIENT, Clock, make_service

from meshd.clinic import local_day
from meshd.clinic_ui.service import NodeClinicService
from meshd.store.base import Store
from ui.app import create_ui_app

MESHD = Path(sys.executable).with_name("meshd")
START_TIMEOUT_S = 20.0
POLL_S = 0.05
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest_asyncio.fixture
async def client(store: Store, clock: Clock) -> AsyncIterator[tuple[TestClient, NodeClinicService]]:
    service = make_service(store, clock)
    app = create_ui_app(service, clock=lambda: clock() / 1000)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client, service


async def post(client: TestClient, path: str, data: dict[str, Any], page: str | None = None,
               ) -> Any:
    """POST a form with the CSRF token printed on `page` (default: the same path)."""
    form_page = await (await client.get(page or path)).text()
    found = _CSRF.search(form_page)
    assert found, f"no CSRF token on {page or path}"
    return await client.post(path, data={**data, "csrf": found.group(1)}, allow_redirects=False)


@pytest.mark.asyncio
async def test_a_clinic_day_through_the_pages_over_the_real_store(
    client: tuple[TestClient, NodeClinicService], clock: Clock
) -> None:
    http, service = client
    response = await http.get("/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/setup"
    response = await post(http, "/setup", {"facility_name": "Kibera Health Post", "name": "Amina",
                                           "pin": "246813", "pin_again": "246813"})
    assert response.status == 303, await response.text()
    admin = (await service.users())[0]
    drug = await service.add_drug("Amoxicillin 250 mg", "capsule", 50, by=admin.id)
    await service.receive_stock(drug, 100, "", by=admin.id)

    response = await post(http, "/patients/new", {
        "given_name": "Baraka", "family_name": "Otieno", "sex": "male", "age_years": "34",
        "village": "Kisumu Ndogo", "phone": "+254 712 345678"})
    assert response.status == 303, await response.text()
    found = re.search(r"/patients/([0-9a-f-]{36})/card", response.headers["Location"])
    assert found
    pid = found.group(1)
    assert "Baraka Otieno" in await (await http.get("/queue")).text()
    response = await post(http, f"/patients/{pid}/triage", {
        "temperature_c": "38.9", "pulse_bpm": "104", "category": "priority"})
    assert response.status == 303, await response.text()
    for path, data in ((f"/patients/{pid}/diagnoses", {"code": "B54"}),
                       (f"/patients/{pid}/lab-orders", {"test": "malaria_rdt"}),
                       (f"/patients/{pid}/prescriptions", {
                           "drug_id": drug, "dose": "250", "dose_unit": "mg", "route": "oral",
                           "frequency": "3x/day", "duration_days": "5", "quantity": "15"})):
        response = await post(http, path, data, page=f"/patients/{pid}")
        assert response.status == 303, (path, await response.text())
    assert "Baraka Otieno" in await (await http.get("/lab")).text()
    order = (await service.pending_lab_orders())[0]
    response = await post(http, f"/lab/{pid}/{order.order_id}",
                          {"value": "positive", "interpretation": "positive"}, page="/lab")
    assert response.status == 303, await response.text()
    rx = (await service.pending_prescriptions())[0]
    response = await post(http, "/pharmacy/dispense", {
        "prescription_id": rx.prescription_id, "patient_id": pid, "drug_id": drug,
        "quantity": "15"}, page="/pharmacy")
    assert response.status == 303, await response.text()
    assert {s.drug_id: s.level for s in await service.stock()}[drug] == 85
    assert not await service.pending_prescriptions()

    for page in ("/queue", "/patients?q=barak", f"/patients/{pid}", f"/patients/{pid}/history",
                 "/review", "/sync", "/reports", "/reports?period=month", "/users", "/pharmacy"):
        response = await http.get(page)
        assert response.status == 200, (page, await response.text())
    (visit,) = await service.visits(local_day(clock()), local_day(clock()))
    assert visit.diagnosis_codes == ("B54",) and "pharmacy" in visit.stations
    reads = await service.clinic.store.audit_events(f"chart:{pid}")
    assert {(r.action, r.user) for r in reads} >= {("read", admin.id)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """GET without following redirects: (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def running_meshd(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real `meshd run` on free ports with a fresh data dir; stopped after the test."""
    port, data_dir = _free_port(), tmp_path / "node"
    process = subprocess.Popen(
        [str(MESHD), "run", "--data-dir", str(data_dir), "--api-port", str(port),
         "--peer-port", str(_free_port()), "--no-mdns"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if _get(url + "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "meshd run did not answer in time"
            time.sleep(POLL_S)  # a subprocess's port: there is no event to wait on
        yield url, data_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def test_meshd_run_serves_the_first_run_page_and_keeps_the_api_token(
    running_meshd: tuple[str, Path],
) -> None:
    url, data_dir = running_meshd
    status, headers, _ = _get(url + "/")
    assert status == 303 and headers["Location"] == "/setup"
    status, _, page = _get(url + "/setup")
    assert status == 200 and "<html lang=" in page
    assert _get(url + "/api/v1/patients?q=a")[0] == 401
    token = (data_dir / "api-token").read_text().strip()
    assert _get(url + "/api/v1/patients?q=a", {"Authorization": f"Bearer {token}"})[0] == 200


@pytest.mark.asyncio
async def test_the_live_event_stream_carries_changes_and_ends_its_subscription(
    client: tuple[TestClient, NodeClinicService], clock: Clock
) -> None:
    http, service = client
    response = await post(http, "/setup", {"facility_name": "Kibera Health Post", "name": "Amina",
                                           "pin": "246813", "pin_again": "246813"})
    assert response.status == 303
    listeners = len(service.clinic.docs._listeners)
    async with http.get("/events") as events:
        assert (await events.content.readline()).startswith(b": live")
        patient = await service.register_patient(PATIENT, local_day(clock()), by="u1")
        lines = []
        while not any(line.startswith(b"data:") for line in lines):
            lines.append(await asyncio.wait_for(events.content.readline(), 5))
        assert f'"doc": "chart:{patient}"'.encode() in b"".join(lines)
    for _ in range(200):  # the server notices the closed stream on its next write
        await service.add_drug(f"Drug {_}", "tablet", 0, by="u1")
        if len(service.clinic.docs._listeners) == listeners:
            break
        await asyncio.sleep(0.01)
    assert len(service.clinic.docs._listeners) == listeners
