"""The sync engine over the node's real Documents (MemoryStore behind it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sync_helpers import QUICK, Mesh, eventually, wait_until

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author
from meshd.docs import Documents
from meshd.store.memory import MemoryStore
from meshd.sync import SyncEngine
from meshd.sync.documents import DocumentsPort
from meshd.sync.ports import DocChange


class Clinic:
    """One device: a store, its Documents, and an engine over them."""

    def __init__(self, mesh: Mesh, name: str) -> None:
        self.device = mesh.device(name)
        self.store = MemoryStore()
        self.actor = os.urandom(16)
        self.documents = Documents(self.store, self.actor)
        self.engine: SyncEngine | None = None

    async def heads(self, doc_id: str) -> tuple[bytes, ...] | None:
        return (await self.store.heads()).get(doc_id)


@pytest_asyncio.fixture
async def clinics(mesh: Mesh) -> AsyncIterator[tuple[Mesh, list[Clinic]]]:
    made: list[Clinic] = []
    yield mesh, made
    for clinic in made:
        if clinic.engine is not None:
            await clinic.engine.stop()
        await clinic.store.stop()


async def _start(mesh: Mesh, clinic: Clinic, peers: list[str]) -> None:
    await clinic.store.start()
    clinic.engine = SyncEngine(
        mesh.credentials(clinic.device), DocumentsPort(clinic.documents),
        mesh.network.transport(clinic.device.name), peers=peers, timing=QUICK,
    )
    await clinic.engine.start()


AT_MS = 1_763_800_000_000
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}


def _chart_id() -> str:
    return f"chart:{uuid.uuid4()}"


@pytest.mark.asyncio
async def test_documents_on_three_devices_converge_through_the_port(
    clinics: tuple[Mesh, list[Clinic]],
) -> None:
    mesh, made = clinics
    a, b, c = Clinic(mesh, "a"), Clinic(mesh, "b"), Clinic(mesh, "c")
    made += [a, b, c]
    await a.store.start()
    early = _register(a)
    early_id = str(early.get(("id",)))
    await a.documents.create(early_id, early)
    await _start(mesh, a, [])
    await _start(mesh, b, ["a"])
    await _start(mesh, c, ["b"])

    async def same(doc_id: str) -> bool:
        heads = [await x.heads(doc_id) for x in (a, b, c)]
        return heads[0] is not None and heads.count(heads[0]) == 3

    await eventually(lambda: same(early_id))

    late = _register(c)
    late_id = str(late.get(("id",)))
    await c.documents.create(late_id, late)
    nurse = Author("bb" * 8, "02" * 8, AT_MS + 1)
    await b.documents.update(early_id, lambda d: chart.add_note(d, {"text": "at b"}, nurse, "n1"))
    await eventually(lambda: same(early_id))
    await eventually(lambda: same(late_id))
    note = await a.documents.read(early_id, lambda d: d.get(("entries", "n1", "text")))
    assert note == "at b"


def _register(clinic: Clinic) -> Doc:
    author = Author(clinic.actor.hex()[:16], "01" * 8, AT_MS)
    return chart.register_patient(str(uuid.uuid4()), PATIENT, author, "2026-11-29")


@pytest.mark.asyncio
async def test_garbage_from_a_peer_reaches_documents_as_corrupt_and_changes_nothing(
    clinics: tuple[Mesh, list[Clinic]],
) -> None:
    mesh, made = clinics
    a = Clinic(mesh, "a")
    made.append(a)
    await a.store.start()
    port = DocumentsPort(a.documents)
    chart = _chart_id()
    results = await port.apply_remote(
        [(chart, b"garbage"), ("not-a-doc-id", b"x"), (chart, Doc.new(a.actor).save())], "peer"
    )
    assert [type(r).__name__ for r in results[:2]] == ["CorruptDocument", "CorruptDocument"]
    assert await port.load("chart:" + str(uuid.uuid4())) is None


@pytest.mark.asyncio
async def test_the_port_and_the_engine_keep_the_heads_in_one_index(
    clinics: tuple[Mesh, list[Clinic]],
) -> None:
    mesh, made = clinics
    a = Clinic(mesh, "a")
    made.append(a)
    await a.store.start()
    stored = _register(a)
    stored_id = str(stored.get(("id",)))
    await a.documents.create(stored_id, stored)
    port = DocumentsPort(a.documents)
    index = await port.heads_index()
    held = index.get(stored_id)
    assert held is not None and held == tuple(sorted(await a.heads(stored_id) or ()))
    heard: list[DocChange] = []
    port.subscribe(heard.append)
    nurse = Author("bb" * 8, "02" * 8, AT_MS + 1)
    await a.documents.update(stored_id, lambda d: chart.add_note(d, {"text": "n"}, nurse, "n1"))
    await wait_until(lambda: len(heard) == 1)
    # The change leads from the heads the index held; the index now holds the new heads.
    assert heard[0].base == held
    assert index.get(stored_id) == tuple(sorted(heard[0].heads)) != heard[0].base

