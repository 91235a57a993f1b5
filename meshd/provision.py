"""Provisioning by invite file: `meshd invite` on a mesh device, `meshd init --invite` on a new one.

The inviter pre-generates the new device's identity and adds its public key to the roster in
`directory:<mesh>`, so every peer that has synced the directory accepts the new device: there is
no new trust mechanism. While the inviter's node runs, that write goes through the node's API
(POST /api/v1/devices/invite with the api-token), because the node caches the directory, pushes
its changes and refreshes its roster from it; otherwise straight into the store. The invite
carries the directory too, so from its first start the new device accepts the inviter and every
device rostered so far.

An invite is single use: the new device gets a key of its own at `init --invite` and keeps the
invite's aside; its key on the roster is pending (with the invite's expiry) and no node accepts
it, until its first handshake with the inviter, who enrols the device's own key in its place
(meshd.sync.node_sync). A second copy of the invite, or one used after expiry, gets nothing; an
expired, unused invite leaves only a pending record that no node accepts.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import ClinicMeshError, ValidationError
from crdt_model.ids import check_uuid, directory_id
from discovery.errors import PeerAddressError
from discovery.netaddrs import local_addresses
from discovery.static import parse_peer
from meshd.api.body import json_object
from meshd.api.middleware import caller_of
from meshd.clinic import actions, now_ms
from meshd.docs import Documents
from meshd.enrolment import keep_invite_key
from meshd.identity import (
    DataDir,
    DataDirError,
    Identity,
    adopt_identity,
    load_data_dir,
    write_keyring,
)
from meshd.invite_file import Invite, InviteError, encode_invite, read_invite, write_invite
from meshd.membership.local_store import CLI_USER, open_documents
from meshd.node import DEFAULT_PEER_PORT, SYSTEM_USER, Node, running_node
from meshd.node_client import NodeApi, NodeRefused
from meshd.store.base import AuditEvent

DEFAULT_INVITE_LIFETIME_S = 24 * 3600.0
MAX_INVITE_LIFETIME_S = 30 * 24 * 3600.0
INVITE_ROUTE = "/api/v1/devices/invite"
MAX_DEFAULT_PEERS = 8
INVITE_ORIGIN = "invite"  # the origin recorded for the directory a new device starts from


@dataclass(frozen=True, slots=True)
class NewDevice:
    """A device to add to the roster: its id, name and raw Ed25519 public key."""

    device_id: str
    name: str
    public_key: bytes
    invite_expires_at_ms: int | None = None  # an invite's key: pending until enrolled


async def roster_device(
    documents: Documents, me: DataDir, device: NewDevice, author: Author,
    audit: Sequence[AuditEvent] = (),
) -> bytes:
    """Add `device` (and this device, when missing) to the mesh roster; the directory's bytes."""
    doc_id = directory_id(me.identity.mesh_id)
    own = me.identity
    own_key = me.device_public_key().hex()

    def add(doc: Doc) -> None:
        if own.device_id not in directory.devices(doc):
            directory.add_device(
                doc, own.device_id, {"name": own.device_name, "public_key": own_key}, author
            )
        record: dict[str, Any] = {"name": device.name, "public_key": device.public_key.hex()}
        if device.invite_expires_at_ms is not None:
            record["invite_expires_at"] = device.invite_expires_at_ms
        directory.add_device(doc, device.device_id, record, author)

    await documents.update(doc_id, add, audit, actor=author.actor)
    return await documents.export(doc_id)


def add_invite_route(app: web.Application, node: Node) -> None:
    """Node extension: POST /api/v1/devices/invite {device_id, name, public_key} rosters a device.

    Answers 201 {"device_id", "directory": base64 Automerge bytes}; only the public key is sent.
    """

    async def invite(request: web.Request) -> web.Response:
        caller = caller_of(request)
        body = await json_object(request)
        key = body.get("public_key")
        if not isinstance(key, str) or len(key) != 64:
            raise ValidationError("public_key must be 32 bytes of hex", field="public_key")
        try:
            public_key = bytes.fromhex(key)
        except ValueError:
            raise ValidationError("public_key must be hex", field="public_key") from None
        name = body.get("name")
        if not isinstance(name, str):
            raise ValidationError("name must be text", field="name")
        expires = body.get("invite_expires_at")
        if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int)):
            raise ValidationError("invite_expires_at must be epoch ms", field="invite_expires_at")
        device = NewDevice(check_uuid(body.get("device_id"), "device_id"), name, public_key,
                           expires)
        assert node.documents is not None and node.data is not None and node.clinic is not None
        author = Author(node.data.identity.device_id, caller.user, now_ms())
        doc_id = directory_id(node.data.identity.mesh_id)
        audit = [node.clinic.audit(caller, actions.INVITE_DEVICE, doc_id, device.device_id)]
        saved = await roster_device(node.documents, node.data, device, author, audit)
        return web.json_response(
            {"device_id": device.device_id, "directory": base64.b64encode(saved).decode()},
            status=201,
        )

    app.router.add_post(INVITE_ROUTE, invite)


def invite_device(
    data_dir: Path, out: Path, *, device_name: str | None = None, peers: Sequence[str] = (),
    lifetime_s: float = DEFAULT_INVITE_LIFETIME_S, passphrase: str | None = None,
    now: datetime | None = None,
) -> Invite:
    """Roster a new device of this mesh and write its invite file to `out` (mode 0600)."""
    me = load_data_dir(data_dir, passphrase)
    now = now or datetime.now(UTC)
    if not 0 < lifetime_s <= MAX_INVITE_LIFETIME_S:
        raise ValidationError("an invite lasts from a second to 30 days", field="expires")
    if not out.parent.is_dir():
        raise ValidationError(f"no directory {out.parent} to write the invite in", field="out")
    try:
        dial = [str(parse_peer(peer)) for peer in peers] or default_peers(data_dir)
    except PeerAddressError as exc:
        raise ValidationError(exc.message, field="peer") from None
    key = Ed25519PrivateKey.generate()
    device_id = str(uuid.uuid4())
    name = (device_name or "").strip() or f"device {device_id[:8]}"
    expires_at = now + timedelta(seconds=lifetime_s)
    device = NewDevice(device_id, name, key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        int(expires_at.timestamp() * 1000))
    record = running_node(data_dir)
    if record is not None:
        saved = _roster_through_node(me, record, device)
    else:
        saved = asyncio.run(_roster_in_store(me, device, passphrase))
    invite = Invite(
        mesh_id=me.identity.mesh_id, mesh_keys=dict(me.mesh_keys) or {0: me.mesh_key},
        facility_id=me.identity.facility_id, facility_name=me.identity.facility_name,
        inviter_id=me.identity.device_id, inviter_name=me.identity.device_name,
        inviter_key=me.device_public_key(), peers=tuple(dial),
        device_id=device_id, device_name=name,
        device_key=key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption()),
        directory=saved, created_at=now, expires_at=expires_at,
    )
    write_invite(out, encode_invite(invite, me.device_key))
    return invite


def join_by_invite(
    data_dir: Path, invite_path: Path, *, device_name: str | None = None,
    passphrase: str | None = None, now: datetime | None = None,
) -> DataDir:
    """Create `data_dir` (absent or empty) as the device an invite describes, in its mesh.

    Validates everything before writing anything; on any failure no data dir is left behind.
    """
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise DataDirError(f"{data_dir} is not empty (already initialised?): use a new --data-dir")
    invite = read_invite(invite_path, now or datetime.now(UTC))
    _check_directory(invite)
    identity = Identity(
        device_id=invite.device_id, device_name=(device_name or invite.device_name),
        mesh_id=invite.mesh_id, facility_id=invite.facility_id,
        facility_name=invite.facility_name,
    )
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place, so a failure half-way leaves nothing that looks usable.
    staging = data_dir.with_name(f".{data_dir.name}.joining-{uuid.uuid4().hex[:8]}")
    try:
        own_key = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
        made = adopt_identity(staging, identity, device_key=own_key,
                              mesh_key=invite.mesh_key, peers=invite.peers, passphrase=passphrase)
        keep_invite_key(staging, invite.device_key, made.sealing_key)
        if set(invite.mesh_keys) != {0}:  # the mesh rotated its key: keep every epoch, as pairing
            write_keyring(staging, invite.mesh_keys, made.sealing_key)
        asyncio.run(_store_directory(made, invite, passphrase))
        os.rename(staging, data_dir)  # replaces an empty dir atomically
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_data_dir(data_dir, passphrase)


def default_peers(data_dir: Path) -> list[str]:
    """This device's IPv4 addresses with its peer port (from run.json when it runs)."""
    record = running_node(data_dir) or {}
    port = record.get("peer_port")
    if not isinstance(port, int) or port <= 0:
        port = DEFAULT_PEER_PORT
    # IPv6 addresses here are mostly link-local, useless without the dialer's interface name.
    addresses = [a for a in local_addresses() if ":" not in a] or ["127.0.0.1"]
    return [f"{address}:{port}" for address in addresses[:MAX_DEFAULT_PEERS]]


async def _roster_in_store(me: DataDir, device: NewDevice, passphrase: str | None) -> bytes:
    async with open_documents(me, passphrase, SYSTEM_USER) as documents:
        author = Author(me.identity.device_id, CLI_USER, now_ms())
        doc_id = directory_id(me.identity.mesh_id)
        audit = [AuditEvent(author.at_ms, CLI_USER, actions.INVITE_DEVICE, doc_id, "cli",
                            device.device_id)]
        return await roster_device(documents, me, device, author, audit)


def _roster_through_node(me: DataDir, record: dict[str, Any], device: NewDevice) -> bytes:
    body = {"device_id": device.device_id, "name": device.name,
            "public_key": device.public_key.hex(),
            "invite_expires_at": device.invite_expires_at_ms}
    try:
        answer = NodeApi(me.api_token, record).call("POST", INVITE_ROUTE, body)
        return base64.b64decode(answer["directory"], validate=True)
    except NodeRefused as exc:
        raise InviteError(
            f"the running node did not roster the device ({exc.message}): try again, or stop "
            "it and run `meshd invite` again"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InviteError(f"the running node answered an unexpected directory: {exc}") from None


def _check_directory(invite: Invite) -> None:
    """The directory in the invite is this mesh's and rosters both the inviter and new device."""
    try:
        doc = Doc.load(invite.directory)
        devices = directory.devices(doc)
        doc_id = doc.to_dict().get("id")
    except ClinicMeshError:
        raise InviteError("the invite's mesh directory is damaged: ask for a new invite") from None
    listed = {device_id: record.get("public_key") for device_id, record in devices.items()}
    expected = {invite.device_id: invite.device_public_key().hex(),
                invite.inviter_id: invite.inviter_key.hex()}
    if doc_id != directory_id(invite.mesh_id) or any(
        listed.get(device_id) != key for device_id, key in expected.items()
    ):
        raise InviteError("the invite's mesh directory does not list its devices: "
                          "ask for a new invite")


async def _store_directory(me: DataDir, invite: Invite, passphrase: str | None) -> None:
    async with open_documents(me, passphrase, SYSTEM_USER) as documents:
        await documents.apply_remote(directory_id(invite.mesh_id), invite.directory,
                                     origin=INVITE_ORIGIN)
