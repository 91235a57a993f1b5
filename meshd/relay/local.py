"""`meshd relay-link` on a data dir whose node is not running: the credential is written into
the mesh directory in the store directly, signed by this device like any change."""

from __future__ import annotations

import asyncio
from pathlib import Path

from crdt_model.adapter import actor_for
from meshd.attest import Attestor
from meshd.clinic import Caller, Clinic, genesis_for, project
from meshd.docs import Documents
from meshd.identity import load_data_dir, load_store_key
from meshd.relay.credential import Credential
from meshd.store.sqlcipher import SqlCipherStore


async def link_stopped_node(data_dir: Path, found: Credential,
                            passphrase: str | None = None) -> None:
    """Keep `found` in the directory of the mesh of the (stopped) node on `data_dir`."""
    data = await asyncio.to_thread(load_data_dir, data_dir, passphrase)
    key = await asyncio.to_thread(load_store_key, data, passphrase)
    device = data.identity.device_id
    genesis = genesis_for(device)
    async with SqlCipherStore(data.store_path, key) as store:
        documents = Documents(store, actor_for(device, "system"), genesis=genesis,
                              project=project, attestor=Attestor(data.device_key, genesis))
        await Clinic(documents, store, data.identity).link_relay(found.to_json(),
                                                                 Caller("cli", "cli"))
