"""What a running `meshd` shows of patient data outside its answers: its log, and how it copes
with a chart that came from elsewhere with fields missing (real processes, issue 10)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from meshd_procs import MESHD, call_api, free_port, stop_process, wait_until_healthy

from crdt_model import chart
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd import identity
from meshd.clinic import project
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore

START_TIMEOUT_S = 20.0
AT_MS = 1_763_800_000_000
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}
PIN = "246813"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Running:
    """A `meshd run` on a fresh data dir, its API and its log."""

    def __init__(self, data: identity.DataDir) -> None:
        self.data = data
        self.api_port = free_port()
        self.log_path = data.path.parent / "run.log"
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [str(MESHD), "run", "--data-dir", str(data.path), "--api-port",
                 str(self.api_port), "--peer-port", str(free_port()), "--no-mdns"],
                stdout=log, stderr=subprocess.STDOUT, text=True)
        wait_until_healthy(self.process, lambda: self.call("GET", "/api/v1/health")[0] == 200,
                           self.log, START_TIMEOUT_S)

    def log(self) -> str:
        return self.log_path.read_text()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, kind, raw = call_api(self.api_port, self.data.api_token, method, path, body)
        return status, json.loads(raw) if kind == "application/json" else raw


@pytest.fixture
def data(tmp_path: Path) -> identity.DataDir:
    return identity.init_data_dir(tmp_path / "node", device_name="registration desk")


@pytest.fixture
def node(data: identity.DataDir) -> Iterator[Running]:
    running: Running | None = None

    def start() -> Running:
        nonlocal running
        running = Running(data)
        return running

    yield start  # type: ignore[misc]
    if running is not None:
        stop_process(running.process)


def test_the_access_log_holds_no_query_string_and_no_patient_data(node: Any) -> None:
    running: Running = node()
    status, created = running.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, created
    patient = created["id"]
    query = urllib.parse.quote("amina bello")
    assert running.call("GET", f"/api/v1/patients?q={query}")[0] == 200
    assert running.call("GET", f"/api/v1/patients/{patient}")[0] == 200

    async def browse() -> None:  # a browser sends the search page's URL as its Referer
        async with aiohttp.ClientSession() as client:
            await client.get(f"http://127.0.0.1:{running.api_port}/patients?q=amina+bello",
                             headers={"Referer": f"http://127.0.0.1/patients?q={query}"})

    asyncio.run(browse())
    stop_process(running.process)
    log = running.log()
    assert '"GET /api/v1/patients" 200' in log  # the requests are logged, by route
    for secret in ("amina", "bello", "q=", patient):
        assert secret not in log.lower(), f"{secret!r} is in the access log"


def _store_chart_without_birth_date(data: identity.DataDir) -> str:
    """A chart as a peer might have sent it: registered, then its birth date removed."""
    patient = str(uuid.uuid4())
    author = Author(data.identity.device_id, "system", AT_MS)
    doc = chart.register_patient(patient, PATIENT, author, "2025-11-22")
    doc.change(lambda tx: tx.delete(("demographics",), "birth_date"))
    doc_id = chart_id(patient)

    async def write() -> None:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data)) as store:
            await store.write([DocWrite(doc_id, doc.save(), tuple(doc.heads()),
                                        project(doc_id, doc), snapshot=True)])

    asyncio.run(write())
    return patient


def test_a_chart_without_a_birth_date_is_found_by_the_api_and_the_search_page(
    data: identity.DataDir, node: Any,
) -> None:
    patient = _store_chart_without_birth_date(data)
    running: Running = node()
    status, found = running.call("GET", "/api/v1/patients?q=amina")
    assert status == 200, found
    assert [(r["id"], r["birth_date"]) for r in found["results"]] == [(patient, None)]
    assert running.call("GET", f"/api/v1/patients/{patient}")[0] == 200

    async def search_page() -> tuple[int, str]:
        base = f"http://127.0.0.1:{running.api_port}"
        # unsafe: keep the session cookie of an IP address host, as a browser does
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            form = await (await client.get(f"{base}/setup")).text()
            csrf = _CSRF.search(form)
            assert csrf, form[:500]
            await client.post(f"{base}/setup", data={
                "facility_name": "Hilltop", "name": "Admin", "pin": PIN, "pin_again": PIN,
                "csrf": csrf.group(1)})
            async with client.get(f"{base}/patients?q=amina") as page:
                return page.status, await page.text()

    status, page = asyncio.run(search_page())
    assert status == 200, page[-2000:]
    assert "Bello" in page
