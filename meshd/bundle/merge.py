"""A bundle checked whole, then its documents merged as a peer's changes (both doors use it).

Before anything is stored the bundle must be of this mesh, sealed with a key epoch this device
holds, signed by a device on the roster in `directory:<mesh>` that is not revoked, and open and
decode to its end (a truncated or altered file fails here). Its documents then go through
`Documents.apply_remote_many` with origin `bundle:<device id>`, a batch at a time: the same
arrival checks and audit rows as a sync peer's changes, and merging is idempotent, so importing
a bundle twice, or an older one, changes nothing. The attachment blobs that follow a chart are
stored after it (their bytes were checked against their SHA-256 in the first pass; a chart
refused keeps none).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crdt_model import directory
from crdt_model.errors import CorruptDocument, NotFound
from crdt_model.ids import directory_id
from meshd import attest
from meshd.attest import SIGNATURES
from meshd.bundle.format import (
    BundleHeader,
    BundleRefused,
    bundle_key,
    check_signature,
    read_header,
)
from meshd.bundle.reading import Blob, contents
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.store.base import Attestation

BUNDLES_ROUTE = "/api/v1/bundles"
KEY_HEADER = "X-Clinicmesh-Bundle-Key"
BATCH_DOCS = 50
BATCH_BLOB_BYTES = 64 * 1024 * 1024  # attachment bytes held before they are stored
MAX_REFUSALS_LISTED = 20
Progress = Callable[[int, int], None]


def _header(path: Path) -> BundleHeader:
    try:
        with path.open("rb") as stream:
            return read_header(stream)
    except OSError as exc:
        raise BundleRefused(f"can't read {path}: {exc.strerror or exc}") from None


def _check_mesh(header: BundleHeader, mesh_id: str) -> None:
    if header.mesh != mesh_id:
        raise BundleRefused(f"this bundle belongs to another mesh ({header.mesh}); this device "
                            f"is in mesh {mesh_id}: nothing was imported")


def bundle_key_for(data: DataDir, path: Path) -> bytes:
    """The frame key of the bundle at `path` for this data dir's mesh (BundleRefused if none)."""
    header = _header(path)
    _check_mesh(header, data.identity.mesh_id)
    mesh_key = (dict(data.mesh_keys) or {data.mesh_epoch: data.mesh_key}).get(header.epoch)
    if mesh_key is None:
        raise BundleRefused(f"the bundle is sealed with the mesh key of epoch {header.epoch}, "
                            "which this device does not hold: sync with the mesh, then retry")
    return bundle_key(mesh_key, header)


async def _signer_key(docs: Documents, mesh_id: str, header: BundleHeader) -> bytes:
    try:
        roster = await docs.read(directory_id(mesh_id), directory.devices)
    except NotFound:
        roster = {}
    record = roster.get(header.device)
    name = header.device_name[:100]
    if record is None:
        raise BundleRefused(f"the bundle was made by device {name!r} ({header.device}), which "
                            "is not on this device's roster: sync with the mesh first")
    if record.get("revoked_at") is not None:
        raise BundleRefused(f"the bundle was made by device {name!r}, which has been revoked")
    # An invite's key stays pending until the device's first handshake with its inviter, and
    # no node accepts a pending key (meshd.sync.node_sync): nor does a bundle.
    if isinstance(record.get("invite_expires_at"), int) and record.get("invite_used_at") is None:
        raise BundleRefused(f"device {name!r} has not finished joining the mesh (its invite is "
                            "still pending): sync it with the mesh first")
    try:
        return bytes.fromhex(str(record.get("public_key")))
    except ValueError:
        raise BundleRefused(f"device {name!r} has no usable key on the roster") from None


def _verify(path: Path, public_key: bytes, key: bytes) -> int:
    """Signature first, then every frame and record to the end (each attachment's bytes
    against its SHA-256); how many documents."""
    with path.open("rb") as stream:
        check_signature(stream, public_key)
    with path.open("rb") as stream:
        return sum(1 for item in contents(stream, key)
                   if not isinstance(item, Blob) and not item[0].startswith(SIGNATURES))


@dataclass
class _Batch:
    """Documents to merge together, then the attachment blobs that came after them (each
    with the document it followed)."""

    docs: list[tuple[str, bytes]] = field(default_factory=list)
    blobs: list[tuple[str, Blob]] = field(default_factory=list)
    blob_bytes: int = 0


def _batches(
    items: Iterator[tuple[str, bytes] | Blob], offered: dict[str, list[Attestation]]
) -> Iterator[_Batch]:
    """The bundle's documents and blobs in bounded batches; the signature records before the
    documents go into `offered`."""
    batch, owner = _Batch(), ""
    for item in items:
        if isinstance(item, Blob):
            batch.blobs.append((owner, item))
            batch.blob_bytes += len(item.data)
            if batch.blob_bytes >= BATCH_BLOB_BYTES:
                yield batch
                batch = _Batch()
            continue
        doc_id, data = item
        if doc_id.startswith(SIGNATURES):
            try:
                offered[doc_id.removeprefix(SIGNATURES)] = attest.unpack(data)
            except CorruptDocument:
                pass  # the document then arrives unproven and is refused with a reason
            continue
        if len(batch.docs) >= BATCH_DOCS:
            yield batch
            batch = _Batch()
        batch.docs.append(item)
        owner = doc_id
    if batch.docs or batch.blobs:
        yield batch


async def import_into(
    docs: Documents, mesh_id: str, path: Path, key: bytes, progress: Progress | None = None,
) -> dict[str, Any]:
    """Check the bundle at `path` whole, then merge it into `docs`; what happened.

    `progress(done, total)` hears of each batch merged.
    """
    header = await asyncio.to_thread(_header, path)
    _check_mesh(header, mesh_id)
    public_key = await _signer_key(docs, mesh_id, header)
    total = await asyncio.to_thread(_verify, path, public_key, key)
    origin = f"bundle:{header.device}"
    changed = unchanged = 0
    refused: list[dict[str, str]] = []
    offered: dict[str, list[Attestation]] = {}
    refused_ids: set[str] = set()
    blobs = 0
    with path.open("rb") as stream:
        batches = _batches(contents(stream, key), offered)
        while batch := await asyncio.to_thread(next, batches, None):
            results = await docs.apply_remote_many(batch.docs, origin, offered) \
                if batch.docs else []
            for (doc_id, _), result in zip(batch.docs, results, strict=True):
                if isinstance(result, CorruptDocument):
                    refused.append({"doc_id": doc_id, "reason": result.message})
                    refused_ids.add(doc_id)
                elif result:
                    changed += 1
                else:
                    unchanged += 1
            # A chart's attachments are kept unless the chart itself was refused.
            for owner, blob in batch.blobs:
                if owner not in refused_ids:
                    await docs.store.put_blob(blob.sha256, blob.data, blob.content_type)
                    blobs += 1
            if progress is not None:
                progress(changed + unchanged + len(refused), total)
    return {
        "device": header.device, "device_name": header.device_name,
        "created_ms": header.created_ms, "documents": total, "changed": changed,
        "unchanged": unchanged, "refused": len(refused), "attachments": blobs,
        "refusals": refused[:MAX_REFUSALS_LISTED],
        "message": _message(total, changed, refused),
    }


def _message(total: int, changed: int, refused: list[dict[str, str]]) -> str:
    if refused:
        return (f"{changed} of {total} documents gained changes; {len(refused)} were refused by "
                "the arrival checks and left as they were")
    if changed == 0:
        return (f"nothing new: all {total} documents were already here (this bundle, or a newer "
                "one, was imported before)")
    return f"{changed} of {total} documents gained changes; the others were already up to date"
