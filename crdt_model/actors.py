"""Automerge actor ids of clinicmesh: who made a change, as (device, user), and the shared
actor of a document's deterministic first change. Pure; re-exported by `crdt_model.adapter`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ACTOR_BYTES = 16
_GENESIS_SALT = b"clinicmesh-genesis:"


def genesis_actor(doc_id: str) -> bytes:
    """The actor id every device uses for the deterministic first change of `doc_id`."""
    return hashlib.sha256(_GENESIS_SALT + doc_id.encode()).digest()[:ACTOR_BYTES]


def actor_for(device_id: str, user_id: str) -> bytes:
    """The actor id of (device, user): 8 bytes of each id, so history names both."""
    return _id_prefix(device_id) + _id_prefix(user_id)


def attribution(actor: bytes) -> tuple[str, str]:
    """(device id prefix, user id prefix) as hex, inverse of `actor_for`."""
    return actor[:8].hex(), actor[8:16].hex()


def _id_prefix(ident: str) -> bytes:
    raw = ident.replace("-", "")
    try:
        return bytes.fromhex(raw)[:8].ljust(8, b"\0")
    except ValueError:
        return hashlib.sha256(ident.encode()).digest()[:8]


@dataclass(frozen=True, slots=True)
class ChangeInfo:
    """One change of a document's history: its hash, author actor and sequence number."""

    hash: bytes
    actor: bytes
    seq: int

    def __reduce__(self) -> tuple[type[ChangeInfo], tuple[bytes, bytes, int]]:
        # By value: a bulk sync's workers hand back thousands, and a slotted dataclass's
        # default pickling (its state, field by field) costs three times as much.
        return ChangeInfo, (self.hash, self.actor, self.seq)
