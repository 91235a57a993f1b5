"""What pairing hands over: the mesh secret (inviter → new device) and the new device's identity.

Both travel sealed inside the PAKE session (discovery.pairing); this module only encodes and
validates them. Encoding: a msgpack map with a format tag and a version, checked field by
field on decode, so a damaged or foreign payload is refused with a clear error and never half
used. Mesh secret fields:

    format, v        "clinicmesh-mesh-secret", 1
    mesh, facility   the mesh id, and [facility id, facility name]
    keys             [[epoch, 32-byte key], ...]: every mesh key the inviter holds
    inviter          [device id, name, 32-byte Ed25519 public key]
    directory        the inviter's `directory:<mesh>` (Automerge bytes), listing the inviter

New device identity: format "clinicmesh-joiner", v 1, device (UUID), name, public_key (32 bytes).
Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import msgpack

from crdt_model.errors import ClinicMeshError

SECRET_FORMAT = "clinicmesh-mesh-secret"
JOINER_FORMAT = "clinicmesh-joiner"
SECRET_VERSION = 1
KEY_BYTES = 32
MAX_NAME_CHARS = 100
MAX_EPOCHS = 1000
MAX_DIRECTORY_BYTES = 900 * 1024  # fits one pairing message (1 MiB) with the rest


class PairingPayloadError(ClinicMeshError):
    """A pairing payload that is damaged or not ours; nothing from it is used."""

    code = "pairing_payload"


@dataclass(frozen=True, slots=True)
class MeshSecret:
    """Everything a new device needs to become a device of the mesh."""

    mesh_id: str
    facility_id: str
    facility_name: str
    keys: dict[int, bytes]
    inviter_id: str
    inviter_name: str
    inviter_key: bytes
    directory: bytes

    def encode(self) -> bytes:
        """The msgpack bytes of this secret."""
        return bytes(msgpack.packb({
            "format": SECRET_FORMAT, "v": SECRET_VERSION, "mesh": self.mesh_id,
            "facility": [self.facility_id, self.facility_name],
            "keys": [[epoch, key] for epoch, key in sorted(self.keys.items())],
            "inviter": [self.inviter_id, self.inviter_name, self.inviter_key],
            "directory": self.directory,
        }, use_bin_type=True))


@dataclass(frozen=True, slots=True)
class JoinerIdentity:
    """Who the new device is: the inviter rosters this."""

    device_id: str
    name: str
    public_key: bytes

    def encode(self) -> bytes:
        """The msgpack bytes of this identity."""
        return bytes(msgpack.packb({
            "format": JOINER_FORMAT, "v": SECRET_VERSION, "device": self.device_id,
            "name": self.name, "public_key": self.public_key,
        }, use_bin_type=True))


def decode_secret(data: bytes) -> MeshSecret:
    """The mesh secret in `data`, validated; PairingPayloadError otherwise."""
    record = _map(data, SECRET_FORMAT)
    facility = _list(record.get("facility"), 2, "facility")
    inviter = _list(record.get("inviter"), 3, "inviter")
    raw_keys = record.get("keys")
    if not isinstance(raw_keys, list) or not 0 < len(raw_keys) <= MAX_EPOCHS:
        raise PairingPayloadError("the mesh secret has no mesh key")
    keys: dict[int, bytes] = {}
    for item in raw_keys:
        epoch, key = _list(item, 2, "keys")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or epoch in keys:
            raise PairingPayloadError("the mesh secret has a bad key epoch")
        keys[epoch] = _bytes(key, "keys", KEY_BYTES)
    directory = record.get("directory")
    if not isinstance(directory, bytes) or not directory or len(directory) > MAX_DIRECTORY_BYTES:
        raise PairingPayloadError("the mesh secret has no mesh directory")
    return MeshSecret(
        mesh_id=_uuid(record.get("mesh"), "mesh"), facility_id=_uuid(facility[0], "facility"),
        facility_name=_name(facility[1], "facility"), keys=keys,
        inviter_id=_uuid(inviter[0], "inviter"), inviter_name=_name(inviter[1], "inviter"),
        inviter_key=_bytes(inviter[2], "inviter", KEY_BYTES), directory=directory,
    )


def decode_joiner(data: bytes) -> JoinerIdentity:
    """The new device's identity in `data`, validated; PairingPayloadError otherwise."""
    record = _map(data, JOINER_FORMAT)
    return JoinerIdentity(
        device_id=_uuid(record.get("device"), "device"), name=_name(record.get("name"), "name"),
        public_key=_bytes(record.get("public_key"), "public_key", KEY_BYTES),
    )


def _map(data: bytes, kind: str) -> dict[str, Any]:
    try:
        record = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError) as exc:
        raise PairingPayloadError(f"the pairing payload is not readable ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != kind:
        raise PairingPayloadError("the pairing payload is not a clinicmesh one")
    if record.get("v") != SECRET_VERSION:
        raise PairingPayloadError(
            f"the other device speaks pairing version {record.get('v')!r}, this one "
            f"{SECRET_VERSION}: update the older device"
        )
    return record


def _list(value: object, size: int, field: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != size:
        raise PairingPayloadError(f"the pairing payload's {field} is malformed")
    return value


def _bytes(value: object, field: str, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise PairingPayloadError(f"the pairing payload's {field} key is malformed")
    return value


def _uuid(value: object, field: str) -> str:
    try:
        return str(uuid.UUID(str(value))) if isinstance(value, str) else _bad(field)
    except ValueError:
        return _bad(field)


def _bad(field: str) -> str:
    raise PairingPayloadError(f"the pairing payload's {field} id is not a UUID")


def _name(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise PairingPayloadError(f"the pairing payload's {field} name is malformed")
    return value.strip()
