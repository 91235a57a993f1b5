"""Two data dirs of one mesh with charts on the first, and a look at what a store holds."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sync_procs import AT_MS, make_mesh, store_docs

from crdt_model import chart, directory
from crdt_model.adapter import Doc, actor_for
from crdt_model.context import Author
from crdt_model.ids import chart_id, directory_id
from crdt_model.sample import build_sample_chart
from meshd import identity
from meshd.bundle.exporting import export_bundle
from meshd.clinic import genesis_for, project
from meshd.docs import Documents
from meshd.store.sqlcipher import SqlCipherStore

__all__ = ["make_mesh"]
TODAY = date.today().isoformat()


def charts_on(data: identity.DataDir, count: int, seed: int = 3) -> dict[str, Doc]:
    """Store `count` sample charts written by `data`'s device; doc id → Doc."""
    author = Author(data.identity.device_id, "system", AT_MS)
    rng = random.Random(seed)
    docs = {}
    for _ in range(count):
        patient = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        docs[chart_id(patient)] = build_sample_chart(patient, author, rng)
    store_docs(data, docs)
    return docs


def edit_chart(data: identity.DataDir, doc: Doc, doc_id: str, phone: str) -> None:
    """A later demographic change to one chart, stored on `data`."""
    author = Author(data.identity.device_id, "system", AT_MS + 60_000)
    chart.update_demographics(doc, {"phone": phone}, author, "w" + phone.lstrip("+"), "2025-11-22")
    store_docs(data, {doc_id: doc})


def stored_heads(data: identity.DataDir) -> dict[str, tuple[bytes, ...]]:
    """doc id → heads of everything in the data dir's store."""

    async def read() -> dict[str, tuple[bytes, ...]]:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            return await store.heads()

    return asyncio.run(read())


def audit_rows(data: identity.DataDir) -> list[dict[str, Any]]:
    """The latest audit rows of the data dir's store."""

    async def read() -> list[dict[str, Any]]:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            return await store.audit_events(limit=1000)

    return asyncio.run(read())


def bundle_of(data: identity.DataDir, out: Path, **options: Any) -> dict[str, Any]:
    """Export a bundle from `data` (since today unless told otherwise)."""
    options.setdefault("since", None if "to" in options else TODAY)
    return asyncio.run(export_bundle(data.path, out, **options))



def revoke_on(data: identity.DataDir, device_id: str) -> None:
    """Mark `device_id` revoked in `data`'s roster (as a revocation synced there would)."""

    async def revoke() -> None:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            me = data.identity.device_id
            docs = Documents(store, actor_for(me, "system"), genesis=genesis_for(me),
                             project=project)
            author = Author(me, "system", AT_MS + 120_000)
            await docs.update(directory_id(data.identity.mesh_id),
                              lambda doc: directory.revoke_device(doc, device_id, author))

    asyncio.run(revoke())
