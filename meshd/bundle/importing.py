"""`meshd bundle import`: the bundle goes to the node running on the data dir, else into its
store opened here; either way through meshd.bundle.merge.

A running node gets the file as the body of POST /api/v1/bundles with this bundle's frame key
(derived here, where the data dir is unlocked: the node's API holds no mesh key).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from crdt_model import directory
from crdt_model.adapter import actor_for
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from meshd.attest import Attestor, keys_by_device
from meshd.bundle.format import BundleRefused
from meshd.bundle.merge import (
    BATCH_DOCS,
    BUNDLES_ROUTE,
    KEY_HEADER,
    Progress,
    bundle_key_for,
    import_into,
)
from meshd.clinic import genesis_for, project
from meshd.docs import Documents
from meshd.identity import load_data_dir
from meshd.node import SYSTEM_USER
from meshd.node_client import NodeApi, NodeRefused, node_api
from meshd.store import keys
from meshd.store.sqlcipher import SqlCipherStore

UPLOAD_TIMEOUT_S = 600.0


def _post(api: NodeApi, path: Path, key: bytes) -> dict[str, Any]:
    with path.open("rb") as body:
        try:
            return api.send("POST", BUNDLES_ROUTE, body, {
                KEY_HEADER: key.hex(), "Content-Type": "application/octet-stream",
                "Content-Length": str(path.stat().st_size)}, UPLOAD_TIMEOUT_S)
        except NodeRefused as exc:
            if exc.code == BundleRefused.code:
                raise BundleRefused(exc.message) from None
            raise


async def import_bundle(
    data_dir: Path, path: Path, passphrase: str | None = None, progress: Progress | None = None,
) -> dict[str, Any]:
    """Import the bundle at `path` on the data dir's node (running or not); what happened.

    `progress(done, total)` hears of each batch merged here (a running node merges in one
    request, unreported).
    """
    data = await asyncio.to_thread(load_data_dir, data_dir, passphrase)
    key = await asyncio.to_thread(bundle_key_for, data, path)
    api = node_api(data_dir)
    if api is not None:
        return {**await asyncio.to_thread(_post, api, path, key), "via": "node"}
    store_key = await asyncio.to_thread(keys.load_key, data_dir, passphrase)
    device = data.identity.device_id
    try:
        async with SqlCipherStore(data.store_path, store_key, create=False) as store:
            # A batch at a time passes through: no use keeping thousands of charts cached.
            genesis = genesis_for(device)
            attestor = Attestor(data.device_key, genesis)
            docs = Documents(store, actor_for(device, SYSTEM_USER), genesis=genesis,
                             project=project, cache_docs=2 * BATCH_DOCS, attestor=attestor)
            signers = keys_by_device(await docs.read(directory_id(data.identity.mesh_id),
                                                     directory.devices))
            attestor.keys_for = lambda device_prefix: signers.get(device_prefix, set())
            merged = await import_into(docs, data.identity.mesh_id, path, key, progress)
            return {**merged, "via": "store"}
    except BundleRefused:
        raise
    except ClinicMeshError as exc:
        raise BundleRefused(f"can't import into {data_dir}: {exc.message}") from None
