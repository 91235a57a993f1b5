"""Two data dirs of one mesh with charts on the first, and a look at what a store holds."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sync_procs import AT_MS, make_mesh, store_docs

from crdt_model import chart
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.ids import chart_id
from crdt_model.sample import build_sample_chart
from meshd import identity
from meshd.bundle.exporting import export_bundle
from meshd.store.sqlcipher import SqlCipherStore

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


__all__ = ["make_mesh"]
