"""Short patient numbers minted by the core: unique across devices that register while apart,
found by search, carried by the chart, continued after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_service_helpers import IDENTITY, PATIENT, make_store

from crdt_model import directory
from crdt_model.adapter import actor_for
from crdt_model.context import Author
from crdt_model.patient_number import device_code, parse
from meshd.clinic import Caller, Clinic, genesis_for, project
from meshd.docs import Documents
from meshd.identity import Identity
from meshd.store.base import Store

DESK = Caller("api", "test")
TABLET = Identity(
    device_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", device_name="desk-tablet",
    mesh_id=IDENTITY.mesh_id, facility_id=IDENTITY.facility_id,
    facility_name=IDENTITY.facility_name,
)
PER_DEVICE = 50


def clinic_of(store: Store, identity: Identity) -> Clinic:
    docs = Documents(store, actor_for(identity.device_id, "system"),
                     genesis=genesis_for(identity.device_id), project=project)
    return Clinic(docs, store, identity)


async def copy_all(source: Clinic, target: Clinic, prefix: str) -> None:
    """What sync does once the devices meet again: every document of `source` merged in."""
    for doc_id in await source.store.doc_ids(prefix):  # type: ignore[attr-defined]
        await target.docs.apply_remote(doc_id, await source.docs.export(doc_id))


async def numbers(clinic: Clinic) -> list[str]:
    rows = await clinic.store.patient_numbers("")
    return sorted(rows)


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["memory", "sqlcipher"])
async def test_two_devices_apart_register_fifty_each_and_every_number_is_unique(
    kind: str, tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    stores = [make_store(kind, tmp_path / "a"), make_store(kind, tmp_path / "b")]
    for store in stores:
        await store.start()  # type: ignore[attr-defined]
    try:
        desk, tablet = clinic_of(stores[0], IDENTITY), clinic_of(stores[1], TABLET)
        admin = Author(IDENTITY.device_id, "admin", desk.now_ms())
        for dev in (IDENTITY, TABLET):
            record = {"name": dev.device_name, "public_key": "ab" * 32}
            await desk.docs.update(desk.directory_doc_id, lambda d, i=dev.device_id, r=record:
                                   directory.add_device(d, i, r, admin))
        await copy_all(desk, tablet, "directory:")
        # Apart: each registers its fifty.
        registered = {}
        for clinic in (desk, tablet):
            for i in range(PER_DEVICE):
                pid = await clinic.register_patient(
                    {**PATIENT, "given_name": f"P{i}"}, DESK, "2026-03-10")
                registered[pid] = clinic
        assert len(await numbers(desk)) == len(await numbers(tablet)) == PER_DEVICE
        await copy_all(desk, tablet, "chart:")
        await copy_all(tablet, desk, "chart:")
        for clinic in (desk, tablet):
            found = await numbers(clinic)
            assert len(found) == len(set(found)) == 2 * PER_DEVICE
            assert all(parse(n) is not None for n in found)
        codes = {parse(n)[0] for n in await numbers(desk)}  # type: ignore[index]
        assert codes == {device_code(IDENTITY.device_id), device_code(TABLET.device_id)}
        # Each chart carries its number, and the number finds that chart first.
        pid = next(p for p, c in registered.items() if c is tablet)
        number = (await desk.chart(pid, DESK))["number"]
        assert parse(number) == (device_code(TABLET.device_id), 1)
        for query in (number, number.lower(), number.replace("-", "")):
            rows = await desk.search_patients(query, DESK)
            assert rows and rows[0]["id"] == pid, query
            assert rows[0]["number"] == number
    finally:
        for store in stores:
            await store.stop()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_the_counter_goes_on_after_a_restart_and_bad_input_uses_no_number(
    tmp_path: Path,
) -> None:
    store = make_store("sqlcipher", tmp_path)
    await store.start()  # type: ignore[attr-defined]
    try:
        first = clinic_of(store, IDENTITY)
        await first.register_patient(PATIENT, DESK, "2026-03-10")
        with pytest.raises(Exception, match="sex"):
            await first.register_patient({**PATIENT, "sex": "?"}, DESK, "2026-03-10")
        again = clinic_of(store, IDENTITY)  # the node restarted on the same store
        pid = await again.register_patient(PATIENT, DESK, "2026-03-10")
        assert parse((await again.chart(pid, DESK))["number"]) == (
            device_code(IDENTITY.device_id), 2)
    finally:
        await store.stop()  # type: ignore[attr-defined]
