"""The invite file: everything a new device needs to join a mesh without interaction.

A JSON object, secret (it holds the mesh key and the new device's private key: mode 0600, treat
it like a password), written atomically. Fields:

    format, version      "clinicmesh-invite", 1
    mesh_id, mesh_key     the mesh and its newest 256-bit key (hex)
    mesh_keys             every mesh key the inviter holds, by epoch ({"0": hex, …})
    facility_id/_name     the facility the new device works in
    inviter               {device_id, name, public_key (hex)}: the device that made the invite
    peers                 HOST:PORT addresses the new device dials first
    device                {device_id, name, private_key (hex)}: the new device, pre-generated
    directory             the inviter's `directory:<mesh>` document (base64 Automerge bytes),
                          which already lists the new device and the inviter
    created_at, expires_at  ISO 8601 UTC; `meshd init --invite` refuses an expired invite (and
                          the inviter, at the device's first handshake: meshd.provision)
    signature             Ed25519 by the inviter over all the other fields

The signature catches a damaged or edited file; it is not a proof of origin (whoever holds the
file holds every secret in it). This module only encodes and validates: no store, no network.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from crdt_model.errors import ClinicMeshError
from discovery.errors import PeerAddressError
from discovery.static import parse_peer

INVITE_FORMAT = "clinicmesh-invite"
INVITE_VERSION = 1
MAX_INVITE_BYTES = 4 * 1024 * 1024  # a directory of a few hundred devices and users fits easily
MAX_PEERS = 32
MAX_EPOCHS = 1000  # one per revocation: a mesh sees a handful in its life
MAX_NAME_CHARS = 100
KEY_BYTES = 32
SIGNATURE_BYTES = 64
INVITE_MODE = 0o600
_SIGNED_PREFIX = b"clinicmesh invite v1\0"
_ASK_AGAIN = "ask the inviting device for a new invite (`meshd invite`)"


class InviteError(ClinicMeshError):
    """An invite file that can't be used; the message says why and what to do."""

    code = "invalid_invite"


@dataclass(frozen=True, slots=True)
class Invite:
    """A validated invite: the mesh, the inviter, where to dial and the new device's identity."""

    mesh_id: str
    mesh_keys: dict[int, bytes]  # by epoch; the newest is the one to dial with
    facility_id: str
    facility_name: str
    inviter_id: str
    inviter_name: str
    inviter_key: bytes
    peers: tuple[str, ...]
    device_id: str
    device_name: str
    device_key: bytes  # raw Ed25519 private key of the new device
    directory: bytes
    created_at: datetime
    expires_at: datetime

    def device_public_key(self) -> bytes:
        """The new device's raw Ed25519 public key."""
        return public_key_of(self.device_key)

    @property
    def mesh_key(self) -> bytes:
        """The newest mesh key."""
        return self.mesh_keys[max(self.mesh_keys)]


def public_key_of(private_key: bytes) -> bytes:
    """The raw Ed25519 public key of a raw private key."""
    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def encode_invite(invite: Invite, inviter_key: Ed25519PrivateKey) -> bytes:
    """The invite file's bytes, signed with the inviter's device key."""
    record: dict[str, Any] = {
        "format": INVITE_FORMAT, "version": INVITE_VERSION,
        "mesh_id": invite.mesh_id, "mesh_key": invite.mesh_key.hex(),
        "mesh_keys": {str(epoch): key.hex() for epoch, key in sorted(invite.mesh_keys.items())},
        "facility_id": invite.facility_id, "facility_name": invite.facility_name,
        "inviter": {"device_id": invite.inviter_id, "name": invite.inviter_name,
                    "public_key": invite.inviter_key.hex()},
        "peers": list(invite.peers),
        "device": {"device_id": invite.device_id, "name": invite.device_name,
                   "private_key": invite.device_key.hex()},
        "directory": base64.b64encode(invite.directory).decode("ascii"),
        "created_at": _iso(invite.created_at), "expires_at": _iso(invite.expires_at),
    }
    record["signature"] = inviter_key.sign(_signed_bytes(record)).hex()
    return (json.dumps(record, indent=1) + "\n").encode()


def write_invite(path: Path, content: bytes) -> None:
    """Write `content` to `path` atomically, readable only by its owner (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, INVITE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_invite(path: Path, now: datetime) -> Invite:
    """Read and validate the invite file at `path` as of `now`; InviteError says what is wrong."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_INVITE_BYTES + 1)
    except OSError as exc:
        raise InviteError(f"cannot read the invite file {path} ({exc.strerror})") from None
    if len(raw) > MAX_INVITE_BYTES:
        raise InviteError(f"{path} is too large to be an invite file")
    return decode_invite(raw, now)


def decode_invite(raw: bytes, now: datetime) -> Invite:
    """Validate an invite file's bytes as of `now` (timezone-aware); InviteError if unusable."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        raise InviteError(
            f"the invite file is incomplete or not an invite (not valid JSON): {_ASK_AGAIN}"
        ) from None
    if not isinstance(record, dict) or record.get("format") != INVITE_FORMAT:
        raise InviteError("this file is not a clinicmesh invite")
    if record.get("version") != INVITE_VERSION:
        raise InviteError(f"the invite has format version {record.get('version')!r}; this meshd "
                          f"reads version {INVITE_VERSION}: use the same meshd version on both")
    inviter, device = _section(record, "inviter"), _section(record, "device")
    inviter_key = _hex(inviter, "public_key", KEY_BYTES, "inviter.")
    signature = _hex(record, "signature", SIGNATURE_BYTES)
    try:
        Ed25519PublicKey.from_public_bytes(inviter_key).verify(signature, _signed_bytes(record))
    except (InvalidSignature, ValueError):
        raise InviteError(
            f"the invite file was altered or damaged (its signature does not match): {_ASK_AGAIN}"
        ) from None
    invite = Invite(
        mesh_id=_uuid(record, "mesh_id"), mesh_keys=_mesh_keys(record),
        facility_id=_uuid(record, "facility_id"), facility_name=_name(record, "facility_name"),
        inviter_id=_uuid(inviter, "device_id", "inviter."),
        inviter_name=_name(inviter, "name", "inviter."), inviter_key=inviter_key,
        peers=_peers(record.get("peers")),
        device_id=_uuid(device, "device_id", "device."),
        device_name=_name(device, "name", "device."),
        device_key=_hex(device, "private_key", KEY_BYTES, "device."),
        directory=_base64(record, "directory"),
        created_at=_time(record, "created_at"), expires_at=_time(record, "expires_at"),
    )
    if now >= invite.expires_at:
        raise InviteError(f"the invite expired at {_iso(invite.expires_at)}: {_ASK_AGAIN}")
    return invite


def _signed_bytes(record: dict[str, Any]) -> bytes:
    unsigned = {key: value for key, value in record.items() if key != "signature"}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _SIGNED_PREFIX + canonical.encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _missing(where: str, name: str, what: str) -> InviteError:
    return InviteError(f"the invite's {where}{name} is missing or not {what}: {_ASK_AGAIN}")


def _section(record: dict[str, Any], name: str) -> dict[str, Any]:
    value = record.get(name)
    if not isinstance(value, dict):
        raise _missing("", name, "an object")
    return value


def _hex(record: dict[str, Any], name: str, size: int, where: str = "") -> bytes:
    value = record.get(name)
    try:
        if not isinstance(value, str) or len(value) != 2 * size:
            raise ValueError
        return bytes.fromhex(value)
    except ValueError:
        raise _missing(where, name, f"{size} bytes of hex") from None


def _uuid(record: dict[str, Any], name: str, where: str = "") -> str:
    value = record.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise _missing(where, name, "a UUID") from None


def _name(record: dict[str, Any], name: str, where: str = "") -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise _missing(where, name, f"a name of 1–{MAX_NAME_CHARS} characters")
    return value.strip()


def _base64(record: dict[str, Any], name: str) -> bytes:
    value = record.get(name)
    try:
        if not isinstance(value, str) or not value:
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise _missing("", name, "base64") from None


def _time(record: dict[str, Any], name: str) -> datetime:
    value = record.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return moment
    except ValueError:
        raise _missing("", name, "an ISO 8601 UTC time") from None


def _mesh_keys(record: dict[str, Any]) -> dict[int, bytes]:
    keys = _section(record, "mesh_keys")
    try:
        epochs = {int(epoch): _hex(keys, epoch, KEY_BYTES, "mesh_keys.") for epoch in keys}
    except ValueError:
        raise _missing("", "mesh_keys", "keys by epoch number") from None
    if not epochs or len(epochs) > MAX_EPOCHS or min(epochs) < 0:
        raise _missing("", "mesh_keys", f"1–{MAX_EPOCHS} keys by epoch number")
    if epochs[max(epochs)] != _hex(record, "mesh_key", KEY_BYTES):
        raise InviteError(f"the invite's mesh_key is not its newest mesh key: {_ASK_AGAIN}")
    return epochs


def _peers(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_PEERS or not all(
        isinstance(peer, str) for peer in value
    ):
        raise _missing("", "peers", f"a list of at most {MAX_PEERS} HOST:PORT")
    try:
        return tuple(str(parse_peer(peer)) for peer in value)
    except PeerAddressError as exc:
        raise InviteError(f"the invite names a bad peer: {exc.message}") from None
