"""The store of a data dir opened by a CLI verb when no node runs on it (and closed after)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crdt_model.adapter import actor_for
from meshd.attest import Attestor
from meshd.clinic import genesis_for, project
from meshd.docs import Documents
from meshd.identity import DataDir, load_store_key
from meshd.store.sqlcipher import SqlCipherStore

CLI_USER = "cli"  # who a change made by a CLI verb straight on the store is attributed to


@asynccontextmanager
async def open_documents(
    data: DataDir, passphrase: str | None, user: str = CLI_USER
) -> AsyncIterator[Documents]:
    """The data dir's documents, changes made as `user`, its store open until the block ends."""
    key = await asyncio.to_thread(load_store_key, data, passphrase)
    store = SqlCipherStore(data.store_path, key)
    await store.start()
    device = data.identity.device_id
    try:
        genesis = genesis_for(device)
        yield Documents(store, actor_for(device, user), genesis=genesis, project=project,
                        attestor=Attestor(data.device_key, genesis))
    finally:
        await store.stop()
