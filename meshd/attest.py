"""Signed changes: every change a device writes is vouched for by its Ed25519 device key.

An Automerge actor id names (device, user) (`crdt_model.actors`), and a change's hash covers
its parents, so one signature over an actor's latest change vouches for every earlier change of
that actor in the document. A device keeps, per document and actor, the signature of the
actor's latest change (an Attestation) and hands them on with the document. A receiver checks
the new changes a peer brings: for each actor among them, its latest new change must carry a
signature by the key of a rostered device whose id the actor names. The deterministic first
change of a derived document (same bytes on every device) is accepted when it is exactly ours.
Anything else is refused (RefusedChange) and quarantined like any other bad data.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, contextmanager
from typing import Any

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crdt_model.adapter import ChangeInfo, Doc, actor_for, attribution, genesis_actor
from crdt_model.arrival import RefusedChange
from crdt_model.errors import CorruptDocument
from meshd.doc_cache import DocCache
from meshd.store.base import Attestation, DocumentStore, DocWrite

CONTEXT = b"clinicmesh change v1\0"
# A rostered device vouching, once, for a change written before devices signed their changes
# (docs/ARCHITECTURE.md §5, "Upgrading a mesh written before signing").
BEFORE_SIGNING = b"clinicmesh vouched before signing v1\0"
MAX_PACKED = 256  # attestations of one document (one per actor that wrote it)
SIGNATURES = "signatures:"  # a bundle record of the attestations of the document that follows
KeysFor = Callable[[bytes], Iterable[bytes]]
"""(8-byte device id prefix of an actor) -> public keys of the rostered devices it may be."""
Genesis = Callable[[str, bytes], "Doc | None"]
Attest = Callable[[str, Doc, list[Attestation]], Sequence[Attestation]]
"""(doc id, stored doc, its stored attestations) -> attestations to add."""
Offered = tuple[bytes, bytes, bytes, tuple[bytes, ...]]
"""(change hash, signature, device prefix, the keys that may have signed it)."""
Verified = tuple[str, bytes, bytes, bytes, bytes]
"""(doc id, change hash, signature, device prefix, the key it verified with)."""


def signed_message(doc_id: str, change_hash: bytes, context: bytes = CONTEXT) -> bytes:
    """What a device signs for one change of one document."""
    return context + doc_id.encode() + b"\0" + change_hash


def pack(found: Sequence[Attestation]) -> bytes:
    """Attestations as bytes, for a bundle (`unpack` reads them back)."""
    packed: bytes = msgpack.packb([[a.actor, a.seq, a.hash, a.sig] for a in found])
    return packed


def unpack(data: bytes) -> list[Attestation]:
    """Attestations packed by `pack`; CorruptDocument if they are not well formed."""
    try:
        raw = msgpack.unpackb(data, max_bin_len=64, max_array_len=MAX_PACKED)
        found = [Attestation(a, s, h, g) for a, s, h, g in raw]
    except Exception as exc:  # msgpack and unpacking raise many types on bad input
        raise CorruptDocument(f"signatures are not well formed: {type(exc).__name__}") from exc
    if not all(isinstance(a.actor, bytes) and len(a.actor) == 16 and isinstance(a.seq, int)
               and isinstance(a.hash, bytes) and len(a.hash) == 32
               and isinstance(a.sig, bytes) and len(a.sig) == 64 for a in found):
        raise CorruptDocument("signatures are not well formed")
    return found


def latest_by_actor(changes: Iterable[ChangeInfo]) -> dict[bytes, ChangeInfo]:
    """Each actor's change with the highest sequence number among `changes`."""
    latest: dict[bytes, ChangeInfo] = {}
    for change in changes:
        if change.actor not in latest or change.seq > latest[change.actor].seq:
            latest[change.actor] = change
    return latest


@functools.lru_cache(maxsize=1024)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def device_prefix(device_id: str) -> bytes:
    """The part of an actor id that names the device (crdt_model.actors)."""
    return actor_for(device_id, "")[:8]


def keys_by_device(devices: Mapping[str, Mapping[str, Any]]) -> dict[bytes, set[bytes]]:
    """(8-byte device id prefix) -> public keys, from the directory's device records.

    Revoked devices keep their keys here: the changes they made before their revocation must
    still reach devices that lack them (a revoked device itself can no longer connect)."""
    found: dict[bytes, set[bytes]] = {}
    for device_id, record in devices.items():
        for field in ("public_key", "invite_key"):
            try:
                key = bytes.fromhex(str(record.get(field) or ""))
            except ValueError:
                continue
            if len(key) == 32:
                found.setdefault(device_prefix(device_id), set()).add(key)
    return found


class Vouching:
    """Whether vouches for changes from before signing are taken, and from which keys.

    `keys` are the rostered devices' keys; `until_ms` is the end of the mesh's window for them
    (set by an admin device that found history from before signing), None while none is open.
    """

    def __init__(self) -> None:
        self.keys: frozenset[bytes] = frozenset()
        self.until_ms: int | None = None


class NotYetProven(Exception):
    """The peer vouched only for a later change of an actor: what it sent is stored once the
    rest arrives (as with a change whose parents are missing), not refused."""


class Attestor:
    """Signs this device's new changes and checks the ones peers bring."""

    def __init__(self, key: Ed25519PrivateKey, genesis: Genesis,
                 keys_for: KeysFor | None = None) -> None:
        self._key = key
        self._genesis = genesis
        # Set by the node once its roster exists. None: a CLI verb on a data dir that knows no
        # roster yet takes what pairing or an invite (channels it trusts) handed it unchecked.
        self.keys_for = keys_for
        self.vouching = Vouching()
        self._genesis_hashes: dict[str, frozenset[bytes]] = {}
        self._verified: Collection[Verified] = ()  # see `verified`

    def sign(self, doc_id: str, doc: Doc, since: Sequence[bytes]) -> tuple[Attestation, ...]:
        """Attestations of the changes written here after `since` (one per actor)."""
        return tuple(self.attest(doc_id, change)
                     for change in latest_by_actor(doc.history(since)).values()
                     if change.actor != genesis_actor(doc_id))

    def attest(self, doc_id: str, change: ChangeInfo) -> Attestation:
        """This device's signature over `change`."""
        sig = self._key.sign(signed_message(doc_id, change.hash))
        return Attestation(change.actor, change.seq, change.hash, sig)

    def vouch(self, doc_id: str, change: ChangeInfo) -> Attestation:
        """This device vouching for `change`, another device's, written before signing."""
        sig = self._key.sign(signed_message(doc_id, change.hash, BEFORE_SIGNING))
        return Attestation(change.actor, change.seq, change.hash, sig)

    def check(
        self, doc_id: str, new: Sequence[ChangeInfo], offered: Iterable[Attestation],
        now_ms: int | None = None,
    ) -> tuple[Attestation, ...]:
        """The attestations that prove `new` (a peer's changes new here); else RefusedChange."""
        offered = list(offered)
        by_hash = {a.hash: a for a in offered}
        if self.keys_for is None:
            return tuple(by_hash[c.hash] for c in new if c.hash in by_hash)
        proven = []
        for actor, change in latest_by_actor(new).items():
            if actor == genesis_actor(doc_id):
                self._check_genesis(doc_id, [c for c in new if c.actor == actor])
                continue
            device = attribution(actor)[0]
            found = by_hash.get(change.hash)
            if found is None and any(a.actor == actor and a.seq > change.seq for a in offered):
                raise NotYetProven(f"{doc_id}: the signed change of {device} is still to come")
            if found is None or found.actor != actor or found.seq != change.seq:
                raise RefusedChange(f"a change of {doc_id} by device {device} is not signed")
            if not self._signed_by_device(doc_id, found, actor[:8]):
                self._check_vouched(doc_id, found, device, now_ms)
            proven.append(found)
        return tuple(proven)

    @contextmanager
    def verified(self, done: Collection[Verified]) -> Iterator[None]:
        """Within the block, a signature in `done` (checked by `verify_offered`, in a worker
        process) counts as verified when the key that verified it is still one `keys_for`
        gives its device; any other is verified here as always."""
        self._verified = done
        try:
            yield
        finally:
            self._verified = ()

    def _signed_by_device(self, doc_id: str, attestation: Attestation, device: bytes) -> bool:
        keys = list(self.keys_for(device)) if self.keys_for is not None else []
        if self._verified and any((doc_id, attestation.hash, attestation.sig, device, key)
                                  in self._verified for key in keys):
            return True
        return _signed_by_any(keys, attestation.sig, signed_message(doc_id, attestation.hash))

    def _check_vouched(
        self, doc_id: str, found: Attestation, device: str, now_ms: int | None
    ) -> None:
        """Accept a rostered device's vouch for a change from before signing while the mesh's
        window is open; wait for the window while none is open yet; else RefusedChange."""
        message = signed_message(doc_id, found.hash, BEFORE_SIGNING)
        if not _signed_by_any(self.vouching.keys, found.sig, message):
            raise RefusedChange(
                f"a change of {doc_id} claims device {device} but is not signed by it")
        until = self.vouching.until_ms
        if until is None:
            raise NotYetProven(f"{doc_id}: vouched for as written before signing; no window "
                               "for that is open here yet")
        if (now_ms if now_ms is not None else int(time.time() * 1000)) > until:
            raise RefusedChange(f"a change of {doc_id} by device {device} is vouched for as "
                                "written before signing, but that window has closed")

    def _check_genesis(self, doc_id: str, changes: Sequence[ChangeInfo]) -> None:
        if doc_id not in self._genesis_hashes:
            first = self._genesis(doc_id, b"\0" * 16)
            self._genesis_hashes[doc_id] = frozenset(
                c.hash for c in (first.history() if first is not None else []))
        if any(c.hash not in self._genesis_hashes[doc_id] for c in changes):
            raise RefusedChange(f"a change of {doc_id} claims to be its shared first change")


def offered_keys(keys_for: KeysFor, offered: Iterable[Attestation]) -> tuple[Offered, ...]:
    """Each offered signature with the keys that may have made it, for `verify_offered`."""
    return tuple((a.hash, a.sig, a.actor[:8], tuple(keys_for(a.actor[:8]))) for a in offered)


def verify_offered(doc_id: str, offered: Iterable[Offered]) -> tuple[Verified, ...]:
    """The offered signatures over changes of `doc_id` that one of their keys made, each with
    that key (pure: runs in an ingest worker; `Attestor.verified` takes the result)."""
    found = []
    for change_hash, sig, device, keys in offered:
        message = signed_message(doc_id, change_hash)
        found += [(doc_id, change_hash, sig, device, key) for key in keys
                  if _signed_by_any((key,), sig, message)][:1]
    return tuple(found)


def _signed_by_any(keys: Iterable[bytes], sig: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            _public_key(key).verify(sig, message)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


async def attest_stored(
    store: DocumentStore, cache: DocCache, doc_ids: Sequence[str], attest: Attest
) -> int:
    """Store, for each stored document of `doc_ids`, the attestations `attest` gives it (under
    the documents' locks); how many documents gained any."""
    async with AsyncExitStack() as stack:
        await cache.lock_all(stack, doc_ids)
        found = await store.read_many(list(doc_ids))
        have = await store.attestations(list(found))
        writes = await asyncio.to_thread(_attested, found, have, attest)
        await store.write(writes)
    return len(writes)


def _attested(found: Mapping[str, bytes], have: Mapping[str, list[Attestation]],
              attest: Attest) -> list[DocWrite]:
    writes = []
    for doc_id, data in found.items():
        doc = Doc.load(data)
        new = tuple(attest(doc_id, doc, have.get(doc_id, [])))
        if new:
            writes.append(DocWrite(doc_id, b"", tuple(doc.heads()), attestations=new))
    return writes
