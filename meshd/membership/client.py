"""The CLI's side of membership: talk to the node running on a data dir, or to its store.

A running node holds the store and caches the directory, so `pair` needs it, and `devices` and
`revoke` go through its API when it runs (`Authorization: Bearer <api-token>`), else straight
to the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crdt_model import directory
from crdt_model.context import Author
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from discovery.netaddrs import local_addresses
from meshd.clinic import actions, now_ms
from meshd.identity import load_data_dir
from meshd.membership.errors import PairingFailed
from meshd.membership.keyring import KeyAdopter, Keyring
from meshd.membership.local_store import CLI_USER, open_documents
from meshd.membership.roster import Revoked, device_rows, make_admin, revoke
from meshd.membership.service import ADMIN_ROUTE, DEVICES_ROUTE, PAIRING_ROUTE, REVOKE_ROUTE
from meshd.node_client import node_api
from meshd.store.base import AuditEvent

PAIRING_POLL_S = 0.5


def open_pairing(data_dir: Path, lifetime_s: float | None = None) -> tuple[dict[str, Any], str]:
    """Open a pairing window on the running node: its answer, and the HOST it can be dialed at."""
    api = node_api(data_dir)
    if api is None:
        raise PairingFailed(
            f"no node runs on {data_dir}: start it (`meshd run --data-dir {data_dir}`), then pair",
            "node_not_running",
        )
    body = {} if lifetime_s is None else {"lifetime_s": lifetime_s}
    opened = api.call("POST", PAIRING_ROUTE, body)
    # The QR names an IPv4 address: IPv6 ones are mostly link-local, useless to another device.
    host = next((a for a in local_addresses() if ":" not in a), "127.0.0.1")
    return opened, host


def wait_for_pairing(
    data_dir: Path, timeout_s: float, on_poll: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Poll the running node's window until it is no longer open (bounded); its last state."""
    api = node_api(data_dir)
    if api is None:
        raise PairingFailed("the node stopped while pairing", "node_not_running")
    deadline = time.monotonic() + timeout_s
    while True:
        state = api.call("GET", PAIRING_ROUTE)
        if on_poll is not None:
            on_poll(state)
        # "paired" comes a moment before the desk has rostered the device and named it.
        settling = state.get("state") == "paired" and state.get("joined") is None
        if (state.get("state") != "open" and not settling) or time.monotonic() > deadline:
            return state
        time.sleep(PAIRING_POLL_S)  # another process's state: nothing to wait on here


def close_pairing(data_dir: Path) -> None:
    """Cancel the running node's pairing window (best effort)."""
    api = node_api(data_dir)
    if api is not None:
        api.call("DELETE", PAIRING_ROUTE)


def list_devices(data_dir: Path, passphrase: str | None = None) -> dict[str, Any]:
    """The roster: from the running node, or from the store."""
    api = node_api(data_dir)
    if api is not None:
        return api.call("GET", DEVICES_ROUTE)
    data = load_data_dir(data_dir, passphrase)

    async def read() -> dict[str, Any]:
        async with open_documents(data, passphrase) as documents:
            try:
                found = await documents.read(directory_id(data.identity.mesh_id),
                                             directory.devices)
            except ClinicMeshError:
                found = {}
        return {"devices": device_rows(found, data.identity.device_id),
                "key_epoch": data.mesh_epoch}

    return asyncio.run(read())


def revoke_device(data_dir: Path, ref: str, passphrase: str | None = None) -> dict[str, Any]:
    """Revoke a device and rotate the mesh key: through the running node, or on the store."""
    api = node_api(data_dir)
    if api is not None:
        return api.call("POST", REVOKE_ROUTE, {"device": ref})
    data = load_data_dir(data_dir, passphrase)

    async def write() -> Revoked:
        async with open_documents(data, passphrase) as documents:
            keyring = Keyring.of(data)
            adopter = KeyAdopter(documents, data, keyring)
            try:
                await adopter.check()  # a newer epoch may be waiting for this device already
                author = Author(data.identity.device_id, CLI_USER, now_ms())
                doc_id = directory_id(data.identity.mesh_id)
                audit = [AuditEvent(author.at_ms, CLI_USER, actions.REVOKE_DEVICE, doc_id, "cli",
                                    ref[:100])]
                return await revoke(documents, data, keyring, ref, author, audit)
            finally:
                adopter.close()

    done = asyncio.run(write())
    return {"device_id": done.device_id, "name": done.name, "epoch": done.epoch,
            "sealed_to": done.sealed_to}


def make_admin_device(data_dir: Path, ref: str, passphrase: str | None = None) -> dict[str, Any]:
    """Make a device an admin device: through the running node, or on the store."""
    api = node_api(data_dir)
    if api is not None:
        return api.call("POST", ADMIN_ROUTE, {"device": ref})
    data = load_data_dir(data_dir, passphrase)

    async def write() -> str:
        async with open_documents(data, passphrase) as documents:
            author = Author(data.identity.device_id, CLI_USER, now_ms())
            doc_id = directory_id(data.identity.mesh_id)
            audit = [AuditEvent(author.at_ms, CLI_USER, actions.ADMIN_DEVICE, doc_id, "cli",
                                ref[:100])]
            return await make_admin(documents, data, ref, author, audit)

    return {"device_id": asyncio.run(write()), "admin": True}
