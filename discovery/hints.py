"""What a device says about itself over mDNS, and what another device learns from it.

Pure. The TXT record holds the protocol version, a short device id, a hash of the mesh id and a
pairing flag: nothing that names the clinic or a patient. A hint is never trust: the daemon
dials it and the sync handshake proves mesh membership.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SERVICE_TYPE = "_clinicmesh._tcp.local."
MDNS_PROTOCOL_VERSION = "1"
MESH_HASH_HEX_CHARS = 16  # 64 bits: enough to tell meshes on one LAN apart, too short to matter
_SHORT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$")
_MESH_HASH = re.compile(rf"^[0-9a-f]{{{MESH_HASH_HEX_CHARS}}}$")
TXT_VERSION, TXT_DEVICE, TXT_MESH, TXT_PAIRING = "v", "id", "mh", "pair"


@dataclass(frozen=True, slots=True)
class PeerHint:
    """A device of clinicmesh seen on the LAN: where to dial it, and whether it is inviting."""

    device_short_id: str
    addresses: tuple[str, ...]  # IPv4 first, then IPv6 (link-local ones carry "%scope")
    port: int
    pairing: bool
    mesh_hash: str = ""


def mesh_hash(mesh_id: str) -> str:
    """The public hint of a mesh id: lets devices pick their own mesh, reveals nothing else."""
    digest = hashlib.sha256(b"clinicmesh mdns mesh hint v1\x00" + mesh_id.encode()).hexdigest()
    return digest[:MESH_HASH_HEX_CHARS]


def check_short_id(device_short_id: str) -> str:
    """The id, or ValueError: 4–32 of a-z, 0-9 and '-' (it becomes a DNS label)."""
    if not _SHORT_ID.match(device_short_id):
        raise ValueError(
            f"device short id {device_short_id!r} must be 4-32 lowercase letters, digits or '-'"
        )
    return device_short_id


def txt_properties(device_short_id: str, mesh: str, pairing: bool) -> dict[str, str]:
    """The TXT record a device advertises (`mesh` is a mesh_hash, "" for no mesh yet)."""
    properties = {TXT_VERSION: MDNS_PROTOCOL_VERSION, TXT_DEVICE: device_short_id, TXT_MESH: mesh}
    if pairing:
        properties[TXT_PAIRING] = "1"
    return properties


def hint_from_txt(
    properties: Mapping[str, str | None], addresses: Sequence[str], port: int | None
) -> PeerHint | None:
    """The hint a resolved service gives, or None when it is not a usable clinicmesh peer."""
    if properties.get(TXT_VERSION) != MDNS_PROTOCOL_VERSION or not port or not addresses:
        return None
    device = properties.get(TXT_DEVICE) or ""
    mesh = properties.get(TXT_MESH) or ""
    if not _SHORT_ID.match(device) or (mesh and not _MESH_HASH.match(mesh)):
        return None
    ordered = sorted(addresses, key=lambda a: (":" in a, a))
    return PeerHint(device, tuple(ordered), port, properties.get(TXT_PAIRING) == "1", mesh)
