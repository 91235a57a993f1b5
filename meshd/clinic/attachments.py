"""Photos and documents on charts: the bytes go to the store's blobs, the chart gets a signed
reference entry (crdt_model.attachments); a blob this device lacks is fetched from the mesh."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

from crdt_model.attachments import (
    MAX_ATTACHMENT_BYTES,
    add_attachment,
    attachment_entry,
    megabytes,
    sha256_hex,
)
from crdt_model.errors import NotFound, TooLarge
from crdt_model.ids import chart_id, check_uuid
from meshd.clinic import actions
from meshd.clinic.base import Caller, ClinicBase
from meshd.clinic.projections import ATTACHMENTS

# Referenced blobs looked at per round of the background fetch (the newest first).
MAX_WANTED_ROWS = 100_000
# How long a page waits for a missing attachment (the fetch goes on in the background).
FETCH_WAIT_S = 30.0


def too_large(size: int) -> TooLarge:
    """The error for a file of `size` bytes, in words a user can act on."""
    return TooLarge(
        f"the file is {megabytes(size)} MB; the largest a chart takes is "
        f"{megabytes(MAX_ATTACHMENT_BYTES)} MB (scan at a lower resolution or split it)",
        field="file", limits=(MAX_ATTACHMENT_BYTES,))


class Attachments(ClinicBase):
    """Add a photo or document to a chart; serve an attachment's bytes."""

    async def add_attachment(
        self, patient_id: str, data: bytes, content_type: str, name: str, caller: Caller,
        purpose: str = "document",
    ) -> dict[str, Any]:
        """Store `data` and reference it on the chart; {"id", "sha256", "size"}. TooLarge over
        the limit, ValidationError for a bad name or type, NotFound for an unknown patient;
        nothing is stored in any of these cases."""
        await self.allow(caller, "attach")
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise too_large(len(data))
        sha256 = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        reference = attachment_entry({"sha256": sha256, "name": name, "size": len(data),
                                      "content_type": content_type, "purpose": purpose})
        doc_id = chart_id(check_uuid(patient_id, "id"))
        if not await self.docs.exists(doc_id):
            raise NotFound("no such patient on this device", field="id")
        # The blob first: a reference written here never names bytes this device lacks.
        await self.docs.store.put_blob(sha256, data, reference["content_type"])
        entry_id = await self.chart_op(
            patient_id, actions.ATTACH,
            lambda doc, author, eid: add_attachment(doc, reference, author, eid), caller)
        return {"id": entry_id, "sha256": sha256, "size": len(data)}

    async def attachment(self, sha256: str, caller: Caller) -> tuple[bytes, str]:
        """An attachment's bytes and content type, fetched from the mesh first when a chart
        references it and this device lacks it; NotFound when no device could send it."""
        await self.allow(caller, "read_attachment")
        sha256 = sha256_hex(sha256)
        found = await self.docs.store.read_blob(sha256)
        if found is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fetch_blob(sha256), FETCH_WAIT_S)
            found = await self.docs.store.read_blob(sha256)
        if found is None:
            raise NotFound("this attachment has not reached this device yet; it is fetched "
                           "when a device holding it is connected", field="sha256")
        await self.docs.record([self.audit(caller, actions.READ_ATTACHMENT,
                                           f"attachment:{sha256}")])
        return found

    async def missing_attachments(self) -> list[str]:
        """SHA-256s that charts here reference and this device does not hold, newest first."""
        rows = await self.store.worklist(ATTACHMENTS, limit=MAX_WANTED_ROWS)
        wanted = list(dict.fromkeys(str(r.row["sha256"]) for r in reversed(rows)))
        held = await self.docs.store.blobs_held(wanted)
        return [s for s in wanted if s not in held]
