"""Upgrading a mesh written before signing (docs/ARCHITECTURE.md §5).

A store written before devices signed their changes holds documents without attestations, and
other devices refuse unproven changes. On its first start after the upgrade a node goes once
through everything it stores: it signs the latest change of each of its own actors, and
vouches (a signature in another context, `meshd.attest.BEFORE_SIGNING`) for the other
devices' changes it holds. Devices take a rostered device's vouch only while the mesh's window
for history from before signing is open: the first admin device that finds such history opens
it, for WINDOW_DAYS, in the directory. After that only signed changes pass, and every change
written since the upgrade is signed by its device anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crdt_model import directory
from crdt_model.adapter import Doc, genesis_actor
from crdt_model.authority import admin_devices
from crdt_model.context import Author
from crdt_model.ids import directory_id
from meshd.attest import Attestor, device_prefix, latest_by_actor
from meshd.docs import Documents
from meshd.identity import DataDir
from meshd.store.base import Attestation

log = logging.getLogger(__name__)

DONE_FILE = "history-signed"  # in the data dir, once the pass has run
WINDOW_DAYS = 14
BATCH = 200
UPGRADE_USER = "upgrade"


@dataclass(frozen=True, slots=True)
class Vouched:
    """What the pass did: documents that gained attestations, and whether any were vouches."""

    documents: int = 0
    others: bool = False
    window_until_ms: int | None = None


async def vouch_history(
    documents: Documents, attestor: Attestor, data: DataDir, now_ms: int
) -> Vouched:
    """Sign or vouch for every stored change no attestation proves yet, once per data dir."""
    done_file = data.path / DONE_FILE
    if done_file.exists():
        return Vouched()
    own = device_prefix(data.identity.device_id)
    others = False

    def attest(doc_id: str, doc: Doc, have: list[Attestation]) -> list[Attestation]:
        nonlocal others
        proven = {a.actor: a.seq for a in have}
        found = []
        for actor, change in latest_by_actor(doc.history()).items():
            if actor == genesis_actor(doc_id) or proven.get(actor, -1) >= change.seq:
                continue
            others = others or actor[:8] != own
            found.append(attestor.attest(doc_id, change) if actor[:8] == own
                         else attestor.vouch(doc_id, change))
        return found

    ids = await documents.store.doc_ids()
    if ids:
        log.info("checking once that the %d stored documents are signed (an upgrade from "
                 "before signing signs or vouches for them now)", len(ids))
    count = 0
    for start in range(0, len(ids), BATCH):
        count += await documents.attest_stored(ids[start:start + BATCH], attest)
    until = await _open_window(documents, data, now_ms) if others else None
    done_file.write_text(f"{now_ms}\n")
    if count:
        log.info("signed the history from before signing of %d documents%s", count,
                 " (vouched for other devices' changes)" if others else "")
    return Vouched(count, others, until)


async def _open_window(documents: Documents, data: DataDir, now_ms: int) -> int | None:
    """Open the mesh's window for vouches when this is an admin device; its end, or None."""
    doc_id = directory_id(data.identity.mesh_id)
    if data.identity.device_id not in await documents.read(
            doc_id, lambda doc: admin_devices(doc.to_dict())):
        return None
    until = now_ms + WINDOW_DAYS * 24 * 3600 * 1000
    author = Author(data.identity.device_id, UPGRADE_USER, now_ms)
    await documents.update(doc_id, lambda doc: directory.open_signing_window(doc, until, author),
                           actor=author.actor)
    return await documents.read(doc_id, directory.signing_window)
