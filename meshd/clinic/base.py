"""What every part of the clinic core shares: who is asking, the clock, authors, audit rows.

Each act is stamped with the caller (a user id and the door it came through), this device and
the time; every chart read and write leaves an audit row named from `actions`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from crdt_model import directory
from crdt_model.access import may
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import Forbidden
from crdt_model.ids import chart_id, check_uuid, directory_id, facility_id, queue_id
from meshd.clinic.numbering import NumberSeries
from meshd.docs import Documents
from meshd.docs import Listener as Listener  # what `subscribe` takes, for the doors
from meshd.identity import Identity
from meshd.store.base import AuditEvent, ReadModel

BlobFetch = Callable[[str], Awaitable[bool]]
"""Fetch an attachment's blob (by SHA-256 hex) from the mesh now; whether it is here after."""
Operation = Callable[[Doc, Author, str], object]
"""A domain operation bound to its input: (doc, author, new entry id) -> anything."""
UNKNOWN = "—"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking (a user id, or `api` for the bearer token) and through which door."""

    user: str
    origin: str


@dataclass(frozen=True, slots=True)
class Names:
    """User and device names of the mesh, by id (documents store ids; people read names)."""

    users: Mapping[str, str]
    devices: Mapping[str, str]

    def user(self, user_id: object) -> str:
        """The user's name, or a short form of the id when the directory does not know it."""
        return self.users.get(str(user_id)) or (str(user_id)[:8] if user_id else UNKNOWN)

    def device(self, device_id: object) -> str:
        """The device's name, or a short form of the id."""
        return self.devices.get(str(device_id)) or (str(device_id)[:8] if device_id else UNKNOWN)


async def no_fetch(sha256: str) -> bool:
    """The default BlobFetch: no mesh to ask (tests, tools), so nothing arrives."""
    return False


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (the only clock the clinic reads)."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A fresh entry, patient, user or move id."""
    return str(uuid.uuid4())


class ClinicBase:
    """The documents, read model, identity and clock of this device's clinic: writes go
    through `docs` (the document store behind it), lists and searches read `store`, the read
    model (usually the same store object, seen through its other face)."""

    def __init__(
        self, docs: Documents, read_model: ReadModel, identity: Identity, *,
        clock: Callable[[], int] = now_ms, today: Callable[[], date] = date.today,
        fetch_blob: BlobFetch = no_fetch,
    ) -> None:
        self.docs = docs
        self.store = read_model
        self.identity = identity
        self._clock = clock
        self._today = today
        self._numbers = NumberSeries()
        self._fetch_blob = fetch_blob  # the node's blob sync: attachments this device lacks

    def today(self) -> date:
        """Today's date on this device (for registration ages and the queue of the day)."""
        return self._today()

    def now_ms(self) -> int:
        """The time now on this device's clock, epoch milliseconds."""
        return self._clock()

    def author(self, caller: Caller) -> Author:
        """The Author stamped on a change made now by `caller` on this device."""
        return Author(self.identity.device_id, caller.user, self._clock())

    def audit(self, caller: Caller, action: str, doc_id: str, detail: str = "") -> AuditEvent:
        """An audit row for `action` on `doc_id` by `caller`, now."""
        return AuditEvent(self._clock(), caller.user, action, doc_id, caller.origin, detail)

    @property
    def facility_doc_id(self) -> str:
        """The doc id of this device's facility."""
        return facility_id(self.identity.facility_id)

    @property
    def directory_doc_id(self) -> str:
        """The mesh directory (users, devices)."""
        return directory_id(self.identity.mesh_id)

    def queue_doc_id(self, day: str | None = None) -> str:
        """The doc id of the queue of `day` (today by default) at this facility."""
        return queue_id(self.identity.facility_id, day or self._today().isoformat())

    async def chart_op(
        self, patient_id: str, action: str, run: Operation, caller: Caller,
        entry_id: str | None = None,
    ) -> str:
        """Run one chart operation as `caller`, audited as `action`; returns its entry id."""
        doc_id = chart_id(check_uuid(patient_id, "id"))
        entry_id = entry_id or new_id()
        author = self.author(caller)
        await self.docs.update(
            doc_id, lambda doc: run(doc, author, entry_id),
            [self.audit(caller, action, doc_id, entry_id)], actor=author.actor,
        )
        return entry_id

    async def facility_op(self, run: Operation, caller: Caller, entry_id: str | None = None,
                          ) -> str:
        """Run a facility operation (a drug, a ledger line); returns its id."""
        entry_id = entry_id or new_id()
        author = self.author(caller)
        await self.docs.update(
            self.facility_doc_id, lambda doc: run(doc, author, entry_id), actor=author.actor,
        )
        return entry_id

    async def queue_op(self, run: Operation, caller: Caller, day: str | None = None) -> str:
        """Run a queue operation on the queue of `day` (today); returns the new record's id."""
        entry_id = new_id()
        author = self.author(caller)
        await self.docs.update(
            self.queue_doc_id(day), lambda doc: run(doc, author, entry_id), actor=author.actor,
        )
        return entry_id

    async def allow(self, caller: Caller, act: str) -> None:
        """Refuse (Forbidden) an act that the caller's roles do not allow (`crdt_model.access`).

        A caller who is a user of the mesh directory is held to their roles (a disabled user
        may do nothing); any other caller
        is a credential of this device itself (the API's bearer token, the CLI, the system)
        and acts for the device.
        """
        users = await self.docs.read(self.directory_doc_id, directory.users)
        record = users.get(caller.user)
        if record is not None and record.get("disabled") is True:
            raise Forbidden(f"{record.get('name') or caller.user} is disabled"
                            " (ask an administrator to enable them)")
        if record is not None and not may(record.get("roles") or (), act):
            raise Forbidden(f"{record.get('name') or caller.user} may not {act.replace('_', ' ')}"
                            " (ask an administrator for the role)")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear of every durable change (local or synced); returns the unsubscribe call."""
        return self.docs.subscribe(listener)

    async def names(self) -> Names:
        """User and device names from the directory (this device always by its own name)."""

        def read(doc: Doc) -> Names:
            users = {k: str(v.get("name") or k) for k, v in directory.users(doc).items()}
            devices = {k: str(v.get("name") or k) for k, v in directory.devices(doc).items()}
            devices[self.identity.device_id] = self.identity.device_name
            return Names(users, devices)

        return await self.docs.read(self.directory_doc_id, read)


def fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A private copy of caller input (the operation runs later, under the document's lock)."""
    return dict(data)
