"""The queue is live: a change on another device reaches an open page as a server-sent event,
and the refreshed table shows it."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient
from ui_helpers import ADMIN_PIN, log_in, set_up

from meshd.clinic_ui.service import NodeClinicService

TODAY = "2026-03-10"
EVENT_WAIT_S = 5.0


async def next_event(stream: asyncio.StreamReader) -> dict[str, str]:
    """The data of the next `change` event (comments and heartbeats skipped)."""
    event = None
    while True:
        line = (await asyncio.wait_for(stream.readline(), EVENT_WAIT_S)).decode().strip()
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "change":
            data: dict[str, str] = json.loads(line.split(":", 1)[1])
            return data


@pytest.mark.asyncio
async def test_queue_change_reaches_an_open_page(client: TestClient,
                                                 clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    patient = await clinic.register_patient(
        {"given_name": "Imani", "family_name": "Wekesa", "sex": "female",
         "estimated_age_years": 2}, TODAY, by="")
    async with client.get("/events") as events:
        assert events.headers["Content-Type"].startswith("text/event-stream")
        assert (await events.content.readline()).startswith(b": live")
        before = await (await client.get("/queue/table", headers={"X-Live": "1"})).text()
        assert "Imani" not in before
        await clinic.check_in(patient, TODAY, by="")  # as if synced from another device
        kinds = set()
        while "queue" not in kinds:
            kinds.add((await next_event(events.content))["kind"])
        after = await (await client.get("/queue/table", headers={"X-Live": "1"})).text()
        assert "Imani Wekesa" in after and "<html" not in after


@pytest.mark.asyncio
async def test_event_stream_needs_login(client: TestClient, clinic: NodeClinicService) -> None:
    await set_up(clinic)
    response = await client.get("/events", allow_redirects=False)
    assert response.status == 303


@pytest.mark.asyncio
async def test_closing_the_stream_ends_the_subscription(client: TestClient,
                                                        clinic: NodeClinicService) -> None:
    await set_up(clinic)
    await log_in(client, "Amina", ADMIN_PIN)
    listeners = clinic.clinic.docs._listeners
    before = len(listeners)
    async with client.get("/events") as events:
        await events.content.readline()
        assert len(listeners) == before + 1
    for _ in range(100):  # the server notices the disconnect on its next write or event
        await clinic.add_drug(f"Drug {_}", "tablet", 0, by="")
        if len(listeners) == before:
            break
        await asyncio.sleep(0.01)
    assert len(listeners) == before
