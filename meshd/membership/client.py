"""The CLI's side of membership: talk to the node running on a data dir, or to its store.

A running node holds the store and caches the directory, so `pair` needs it, and `devices` and
`revoke` go through its API when it runs (`Authorization: Bearer <api-token>`), else straight
to the store.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crdt_model import directory
from crdt_model.context import Author
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import directory_id
from discovery.netaddrs import local_addresses
from meshd.identity import DataDir, load_data_dir
from meshd.membership.errors import PairingFailed
from meshd.membership.keyring import KeyAdopter, Keyring
from meshd.membership.local_store import CLI_USER, open_documents
from meshd.membership.roster import Revoked, device_rows, revoke
from meshd.membership.service import DEVICES_ROUTE, PAIRING_ROUTE, REVOKE_ROUTE
from meshd.node import running_node
from meshd.service import now_ms
from meshd.store.base import AuditEvent

NODE_TIMEOUT_S = 15.0
PAIRING_POLL_S = 0.5


class NodeApi:
    """The JSON API of the node running on a data dir."""

    def __init__(self, data: DataDir, record: dict[str, object]) -> None:
        host = str(record.get("host") or "127.0.0.1")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        self.base = f"http://{f'[{host}]' if ':' in host else host}:{record.get('api_port')}"
        self._token = data.api_token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request; the JSON answer, or the node's error as a ClinicMeshError."""
        request = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}",
                     "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=NODE_TIMEOUT_S) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())
                message, code = str(error["message"]), str(error["error"])
            except (ValueError, KeyError, TypeError):
                message, code = f"the node answered {exc.code}", "node_error"
            raise PairingFailed(message, code) from None
        except (OSError, ValueError) as exc:
            raise PairingFailed(
                f"the node running on this data dir did not answer at {self.base} ({exc})",
                "node_unreachable",
            ) from None


def node_api(data_dir: Path) -> tuple[DataDir, NodeApi | None]:
    """The data dir, and the API of its running node (None when no node runs on it)."""
    data = load_data_dir(data_dir)
    record = running_node(data_dir)
    return data, (NodeApi(data, record) if record is not None else None)


def open_pairing(data_dir: Path, lifetime_s: float | None = None) -> tuple[dict[str, Any], str]:
    """Open a pairing window on the running node: its answer, and the HOST it can be dialed at."""
    _, api = node_api(data_dir)
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
    _, api = node_api(data_dir)
    if api is None:
        raise PairingFailed("the node stopped while pairing", "node_not_running")
    deadline = time.monotonic() + timeout_s
    while True:
        state = api.call("GET", PAIRING_ROUTE)
        if on_poll is not None:
            on_poll(state)
        if state.get("state") != "open" or time.monotonic() > deadline:
            return state
        time.sleep(PAIRING_POLL_S)  # another process's state: nothing to wait on here


def close_pairing(data_dir: Path) -> None:
    """Cancel the running node's pairing window (best effort)."""
    _, api = node_api(data_dir)
    if api is not None:
        api.call("DELETE", PAIRING_ROUTE)


def list_devices(data_dir: Path, passphrase: str | None = None) -> dict[str, Any]:
    """The roster: from the running node, or from the store."""
    data, api = node_api(data_dir)
    if api is not None:
        return api.call("GET", DEVICES_ROUTE)

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
    data, api = node_api(data_dir)
    if api is not None:
        return api.call("POST", REVOKE_ROUTE, {"device": ref})

    async def write() -> Revoked:
        async with open_documents(data, passphrase) as documents:
            keyring = Keyring.of(data)
            adopter = KeyAdopter(documents, data, keyring)
            try:
                await adopter.check()  # a newer epoch may be waiting for this device already
                author = Author(data.identity.device_id, CLI_USER, now_ms())
                doc_id = directory_id(data.identity.mesh_id)
                audit = [AuditEvent(author.at_ms, CLI_USER, "revoke_device", doc_id, "cli",
                                    ref[:100])]
                return await revoke(documents, data, keyring, ref, author, audit)
            finally:
                adopter.close()

    done = asyncio.run(write())
    return {"device_id": done.device_id, "name": done.name, "epoch": done.epoch,
            "sealed_to": done.sealed_to}
