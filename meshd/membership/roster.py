"""The devices of `directory:<mesh>`: list them, find one, add a paired one, revoke one.

Revoking a device marks it revoked and rotates the mesh key in the same durable write: a new
random key, epoch + 1, sealed to each remaining device's identity key (`sealing`) and stored in
the directory, so a device that was offline gets it when it returns (`keyring.KeyAdopter`).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.authority import admin_devices
from crdt_model.context import Author
from crdt_model.errors import NotFound, ValidationError
from crdt_model.ids import directory_id
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.membership.keyring import Keyring
from meshd.membership.sealing import KEY_BYTES, seal_context, seal_mesh_key
from meshd.membership.secret import JoinerIdentity
from meshd.store.base import AuditEvent

FINGERPRINT_HEX_CHARS = 16
MIN_PREFIX_CHARS = 4  # a shorter id prefix matches too easily by chance


@dataclass(frozen=True, slots=True)
class Revoked:
    """The outcome of a revocation: which device, and the epoch of the new mesh key."""

    device_id: str
    name: str
    epoch: int
    sealed_to: int  # how many remaining devices received the new key


def fingerprint(public_key_hex: str) -> str:
    """A short, readable digest of a device key, to compare on two screens ("1a2b 3c4d …")."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:FINGERPRINT_HEX_CHARS]
    return " ".join(digest[i:i + 4] for i in range(0, FINGERPRINT_HEX_CHARS, 4))


def invite_state(record: dict[str, Any], now_ms: int) -> str | None:
    """"invited" (its invite not used yet), "invite expired" (never used: no node accepts it),
    or None for a device that paired or used its invite."""
    expires = record.get("invite_expires_at")
    if not isinstance(expires, int) or record.get("invite_used_at") is not None:
        return None
    return "invited" if now_ms < expires else "invite expired"


def device_rows(
    devices: dict[str, dict[str, Any]], own_id: str, now_ms: int | None = None
) -> list[dict[str, Any]]:
    """The roster as rows: name, id, fingerprint, added by and when, revoked, this device,
    and the state of its invite (when it came by one and has not used it)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    admins = admin_devices({"devices": devices})
    rows = []
    for device_id, record in devices.items():
        key = record.get("public_key")
        added_by = record.get("added_by")
        rows.append({
            "name": record.get("name"), "id": device_id,
            "fingerprint": fingerprint(key) if isinstance(key, str) else None,
            "added_by": devices.get(str(added_by), {}).get("name") or added_by,
            "added_at": _iso(record.get("added_at")),
            "revoked": record.get("revoked_at") is not None,
            "revoked_at": _iso(record.get("revoked_at")),
            "this_device": device_id == own_id,
            "admin": device_id in admins,
            "invite": invite_state(record, now_ms),
        })
    return sorted(rows, key=lambda row: (row["revoked"], str(row["name"]).lower(), row["id"]))


def find_device(devices: dict[str, dict[str, Any]], ref: str) -> str:
    """The id of the device named `ref`, or whose id is or starts with `ref`."""
    ref = ref.strip()
    if ref in devices:
        return ref
    named = [d for d, r in devices.items() if str(r.get("name", "")).lower() == ref.lower()]
    by_prefix = [d for d in devices if len(ref) >= MIN_PREFIX_CHARS and d.startswith(ref)]
    for matches in (named, by_prefix):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValidationError(
                f"{ref!r} matches {len(matches)} devices: give more of the device id",
                field="device",
            )
    raise NotFound(f"no device {ref!r} in this mesh: see `meshd devices`", field="device")


def ensure_self(doc: Doc, me: DataDir, author: Author) -> None:
    """Put this device on the roster if it is not there yet (the mesh's first device is not)."""
    own = me.identity
    if own.device_id not in directory.devices(doc):
        directory.add_device(
            doc, own.device_id,
            {"name": own.device_name, "public_key": me.device_public_key().hex()}, author,
        )


async def add_joiner(
    documents: Documents, me: DataDir, joiner: JoinerIdentity, author: Author,
    audit: list[AuditEvent],
) -> None:
    """Roster a device that just paired (this device too, if missing)."""

    def add(doc: Doc) -> None:
        ensure_self(doc, me, author)
        directory.add_device(
            doc, joiner.device_id, {"name": joiner.name, "public_key": joiner.public_key.hex()},
            author,
        )

    await documents.update(directory_id(me.identity.mesh_id), add, audit, actor=author.actor)


async def revoke(
    documents: Documents, me: DataDir, keyring: Keyring, ref: str, author: Author,
    audit: list[AuditEvent],
) -> Revoked:
    """Revoke the device `ref` (name or id prefix) and rotate the mesh key, in one write."""
    mesh_id = me.identity.mesh_id
    new_key = os.urandom(KEY_BYTES)

    def rotate(doc: Doc) -> Revoked:
        ensure_self(doc, me, author)
        devices = directory.devices(doc)
        target = find_device(devices, ref)
        if target == me.identity.device_id:
            raise ValidationError("a device can't revoke itself: revoke it from another one",
                                  field="device")
        directory.revoke_device(doc, target, author)
        epoch = 1 + max([keyring.epoch, *(
            e for record in devices.values() for e, _, _ in directory.sealed_keys(record)
        )])
        sealed = {}
        for device_id, record in directory.devices(doc).items():
            key = record.get("public_key")
            if record.get("revoked_at") is None and isinstance(key, str):
                context = seal_context(mesh_id, epoch, author.device_id, device_id)
                sealed[device_id] = seal_mesh_key(new_key, bytes.fromhex(key), context).hex()
        directory.store_sealed_keys(doc, epoch, sealed, author)
        return Revoked(target, str(devices[target].get("name")), epoch, len(sealed))

    done = await documents.update(directory_id(mesh_id), rotate, audit, actor=author.actor)
    # After the durable write: a crash in between is recovered from this device's own sealed copy.
    keyring.add({done.epoch: new_key})
    return done


async def make_admin(
    documents: Documents, me: DataDir, ref: str, author: Author, audit: list[AuditEvent]
) -> str:
    """Make the device `ref` (name or id prefix) an admin device; returns its id."""

    def promote(doc: Doc) -> str:
        target = find_device(directory.devices(doc), ref)
        directory.make_admin_device(doc, target, author)
        return target

    return await documents.update(directory_id(me.identity.mesh_id), promote, audit,
                                  actor=author.actor)


def _iso(at_ms: object) -> str | None:
    if isinstance(at_ms, bool) or not isinstance(at_ms, int):
        return None
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="seconds")
