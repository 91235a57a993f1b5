"""Upgrading a mesh written before signing: charts stored without any signature (as every
store was before devices signed their changes) still reach every device after the upgrade,
including a new device that syncs only through an ordinary one, and nobody is quarantined."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

from meshd_procs import eventually
from sync_procs import AT_MS, MeshdProcess, make_mesh

from crdt_model.context import Author
from crdt_model.ids import chart_id
from crdt_model.sample import build_sample_chart
from meshd import identity
from meshd.clinic import project
from meshd.signing_upgrade import DONE_FILE
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore


def _charts_by(data: identity.DataDir, count: int, seed: int) -> dict[str, Any]:
    author = Author(data.identity.device_id, "nurse", AT_MS)
    rng = random.Random(seed)
    docs = {}
    for _ in range(count):
        patient = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        docs[chart_id(patient)] = build_sample_chart(patient, author, rng)
    return docs


def _store_unsigned(data: identity.DataDir, docs: dict[str, Any]) -> None:
    """Store documents as the code before signing did: no attestation at all."""

    async def write() -> None:
        store = SqlCipherStore(data.store_path, identity.load_store_key(data))
        await store.start()
        try:
            await store.write([DocWrite(d, doc.save(), tuple(doc.heads()), project(d, doc), True)
                               for d, doc in docs.items()])
            assert await store.attestations(list(docs)) == {}
        finally:
            await store.stop()

    asyncio.run(write())


def test_history_from_before_signing_reaches_a_new_device_through_an_ordinary_one(
    tmp_path: Path,
) -> None:
    admin_dir, tablet_dir, new_dir = make_mesh(tmp_path, 3)
    history = {**_charts_by(admin_dir, 3, seed=1), **_charts_by(tablet_dir, 3, seed=2)}
    for data in (admin_dir, tablet_dir):  # both held everything before the upgrade
        _store_unsigned(data, history)

    admin = MeshdProcess(admin_dir).start([])
    tablet = MeshdProcess(tablet_dir).start([admin.peer_address])
    new = MeshdProcess(new_dir).start([tablet.peer_address])  # it reaches only the tablet
    try:
        assert (admin_dir.path / DONE_FILE).exists() and (tablet_dir.path / DONE_FILE).exists()

        def arrived() -> bool:
            return all(new.call("GET", f"/api/v1/docs/{d}/heads")[0] == 200 for d in history)

        eventually(arrived, 30)
        for node in (admin, tablet, new):
            assert node.sync_status()["quarantine"] == []
        # After the upgrade every new change is signed: an edit on the new device reaches all.
        doc_id = next(iter(history))
        patient = doc_id.split(":", 1)[1]
        status, _ = new.call("POST", f"/api/v1/patients/{patient}/notes",
                             {"text": "Seen after the upgrade."})
        assert status == 201
        heads = new.call("GET", f"/api/v1/docs/{doc_id}/heads")[1]
        eventually(lambda: admin.call("GET", f"/api/v1/docs/{doc_id}/heads")[1] == heads, 30)
    finally:
        for node in (new, tablet, admin):
            node.stop()
