"""Live changes for the UI (local and synced), review of concurrent edits arriving by sync."""

from __future__ import annotations

import asyncio
import gc

import pytest
from ui_service_helpers import IDENTITY, PATIENT, PIN_HASH, Clock

from crdt_model import chart
from crdt_model.adapter import Doc, actor_for
from crdt_model.context import Author
from meshd.clinic import local_day
from meshd.clinic_ui.changes import Subscription
from meshd.clinic_ui.service import NodeClinicService
from ui.records import ChangeEvent

EVENT_WAIT_S = 5.0
PEER_DEVICE = "7e7e7e7e-0000-4000-8000-000000000001"


async def next_event(events: Subscription) -> ChangeEvent:
    return await asyncio.wait_for(anext(events), EVENT_WAIT_S)


@pytest.mark.asyncio
async def test_subscribers_hear_local_and_synced_changes(
    service: NodeClinicService, clock: Clock
) -> None:
    events = service.subscribe()
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    assert await next_event(events) == ChangeEvent(service.clinic.directory_doc_id, "directory")
    assert (await next_event(events)).kind == "facility"
    patient = await service.register_patient(PATIENT, local_day(clock()), by=admin.id)
    assert await next_event(events) == ChangeEvent(f"chart:{patient}", "chart")
    await service.check_in(patient, local_day(clock()), by=admin.id)
    assert {(await next_event(events)).kind for _ in range(2)} == {"chart", "queue"}

    doc_id = f"chart:{patient}"
    stored = await service.clinic.store.read(doc_id) or b""
    remote = Doc.load(stored, actor=actor_for(PEER_DEVICE, "u"))
    chart.order_lab(remote, {"test": "Hb"}, Author(PEER_DEVICE, "u", clock()), "o-remote")
    assert await service.clinic.docs.apply_remote(doc_id, remote.save(), origin="peer-1")
    assert await next_event(events) == ChangeEvent(doc_id, "chart")
    # A synced chart's worklist rows are projected in the same write as the chart.
    assert [o.order_id for o in await service.pending_lab_orders()] == ["o-remote"]
    await events.aclose()


@pytest.mark.asyncio
async def test_a_slow_subscriber_never_blocks_writes_and_keeps_the_latest(
    service: NodeClinicService, clock: Clock
) -> None:
    listeners = len(service.clinic.docs._listeners)
    slow = Subscription(service.clinic.docs, max_pending=4)
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    patients = []
    for _ in range(10):  # nobody reads `slow` meanwhile
        patients.append(await asyncio.wait_for(
            service.register_patient(PATIENT, local_day(clock()), by=admin.id), EVENT_WAIT_S))
    for _ in range(3):  # repeated changes of one document wait as one event
        await service.add_drug(f"Drug {_}", "tablet", 0, by=admin.id)
    # 13 events for 4 places: directory, facility and the 7 oldest charts were dropped.
    assert slow.dropped == 9
    waiting = [(await next_event(slow)).doc_id for _ in range(4)]
    assert waiting == [f"chart:{p}" for p in patients[-3:]] + [service.clinic.facility_doc_id]
    await slow.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(slow)
    assert len(service.clinic.docs._listeners) == listeners


@pytest.mark.asyncio
async def test_cancelling_a_waiting_read_then_closing_unsubscribes(
    service: NodeClinicService,
) -> None:
    listeners = len(service.clinic.docs._listeners)
    events = service.subscribe()
    step = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)  # let it start waiting
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    await events.aclose()
    assert len(service.clinic.docs._listeners) == listeners


@pytest.mark.asyncio
async def test_concurrent_edits_arriving_by_sync_are_reviewed_and_resolved(
    service: NodeClinicService, clock: Clock
) -> None:
    admin = await service.set_up_facility("Kibera Health Post", "Amina", PIN_HASH, "en")
    patient = await service.register_patient(PATIENT, local_day(clock()), by=admin.id)
    doc_id = f"chart:{patient}"
    stored = await service.clinic.store.read(doc_id) or b""
    edits = []
    for device, family in ((IDENTITY.device_id, "Otieno-Odhiambo"), (PEER_DEVICE, "Odhiambo")):
        author = Author(device, admin.id, clock() + 1000)
        copy = Doc.load(stored, actor=author.actor)
        chart.update_demographics(copy, {"family_name": family}, author, f"w-{family}",
                                  local_day(clock()))
        edits.append(copy)
    for copy in edits:
        await service.clinic.docs.apply_remote(doc_id, copy.save(), origin="peer-1")
    (item,) = await service.review_items()
    assert item.patient_id == patient and item.field == "family_name"
    assert sorted(c.value for c in item.candidates) == ["Odhiambo", "Otieno-Odhiambo"]
    assert {c.user_name for c in item.candidates} == {"Amina"}
    await service.resolve_review(item.id, "Odhiambo", "checked the ID card", by=admin.id)
    assert await service.review_items() == []
    resolved = await service.get_chart(patient)
    assert resolved.patient.family_name == "Odhiambo"
    assert "checked the ID card" in resolved.of_kind("note")[-1].data["text"]


@pytest.mark.asyncio
async def test_a_dropped_subscription_stops_listening(service: NodeClinicService) -> None:
    listeners = len(service.clinic.docs._listeners)
    events = service.subscribe()
    assert len(service.clinic.docs._listeners) == listeners + 1
    del events
    gc.collect()
    assert len(service.clinic.docs._listeners) == listeners
