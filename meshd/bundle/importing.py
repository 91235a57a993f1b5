"""`meshd bundle import`: the bundle goes to the node running on the data dir, else into its
store opened here; either way through meshd.bundle.merge.

A running node gets the file as the body of POST /api/v1/bundles with this bundle's frame key
(derived here, where the data dir is unlocked: the node's API holds no mesh key).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from crdt_model.adapter import actor_for
from crdt_model.errors import ClinicMeshError
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
from meshd.identity import load_data_dir, read_api_token
from meshd.node import SYSTEM_USER
from meshd.node_client import NodeApi, NodeRefused, node_api
from meshd.store import keys
from meshd.store.sqlcipher import SqlCipherStore

UPLOAD_TIMEOUT_S = 600.0


def _post(api: NodeApi, token: str, path: Path, key: bytes) -> dict[str, Any]:
    with path.open("rb") as body:
        request = urllib.request.Request(
            api.base + BUNDLES_ROUTE, method="POST", data=body,
            headers={"Authorization": f"Bearer {token}", KEY_HEADER: key.hex(),
                     "Content-Type": "application/octet-stream",
                     "Content-Length": str(path.stat().st_size)},
        )
        try:
            with urllib.request.urlopen(request, timeout=UPLOAD_TIMEOUT_S) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())
                message, code = str(error["message"]), str(error["error"])
            except (ValueError, KeyError, TypeError):
                message, code = f"the node answered {exc.code}", "node_error"
            if code == BundleRefused.code:
                raise BundleRefused(message) from None
            raise NodeRefused(message, code) from None
        except (OSError, ValueError) as exc:
            raise NodeRefused(f"the node running on this data dir did not answer at {api.base} "
                              f"({exc})", "node_unreachable") from None


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
        token = read_api_token(data_dir)
        return {**await asyncio.to_thread(_post, api, token, path, key), "via": "node"}
    store_key = await asyncio.to_thread(keys.load_key, data_dir, passphrase)
    device = data.identity.device_id
    try:
        async with SqlCipherStore(data.store_path, store_key, create=False) as store:
            # A batch at a time passes through: no use keeping thousands of charts cached.
            docs = Documents(store, actor_for(device, SYSTEM_USER), genesis=genesis_for(device),
                             project=project, cache_docs=2 * BATCH_DOCS)
            merged = await import_into(docs, data.identity.mesh_id, path, key, progress)
            return {**merged, "via": "store"}
    except BundleRefused:
        raise
    except ClinicMeshError as exc:
        raise BundleRefused(f"can't import into {data_dir}: {exc.message}") from None
