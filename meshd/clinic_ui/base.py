"""What every part of the UI service shares: the node's Clinic, who is acting, names, ids.

Writes act as the user id the UI passes as `by`; reads (which the UI's Protocol does not stamp)
act as the user the UI middleware put in `current_reader` for the request being served, so the
audit log names the person who opened a chart.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.ids import directory_id
from meshd.clinic_ui.records import Names
from meshd.service import Caller, Clinic

UI_ORIGIN = "ui"
# Reads made outside a logged-in request (tests, scripts) are audited as the UI itself.
UI_READER = "ui"

current_reader: contextvars.ContextVar[str] = contextvars.ContextVar(
    "clinicmesh_ui_reader", default=UI_READER
)

EngineReport = Callable[[], "Mapping[str, Any] | None"]
"""() -> the sync engine's status report, or None when sync is not running."""


def no_sync() -> Mapping[str, Any] | None:
    """The sync report of a node without a sync engine."""
    return None


def new_id() -> str:
    """A fresh id for a user, entry, write or move."""
    return str(uuid.uuid4())


class ServiceBase:
    """The node's clinic as the UI service sees it."""

    def __init__(
        self, clinic: Clinic, *, sync_report: EngineReport = no_sync,
        relay_url: str | None = None,
    ) -> None:
        self.clinic = clinic
        self.docs = clinic.docs
        self.store = clinic.docs.store
        self.identity = clinic.identity
        self._sync_report = sync_report
        self._relay_url = relay_url
        self._started_ms = clinic.now_ms()

    @property
    def directory_doc_id(self) -> str:
        """The mesh directory (users, devices)."""
        return directory_id(self.identity.mesh_id)

    def writer(self, by: str) -> Caller:
        """The caller of a write by user `by` through the UI."""
        return Caller(user=by, origin=UI_ORIGIN)

    def reader(self) -> Caller:
        """The caller of a read: the logged-in user of the request being served."""
        return Caller(user=current_reader.get(), origin=UI_ORIGIN)

    async def names(self) -> Names:
        """User and device names from the directory (this device always by its own name)."""

        def read(doc: Doc) -> Names:
            users = {k: str(v.get("name") or k) for k, v in directory.users(doc).items()}
            devices = {k: str(v.get("name") or k) for k, v in directory.devices(doc).items()}
            devices[self.identity.device_id] = self.identity.device_name
            return Names(users, devices)

        return await self.docs.read(self.directory_doc_id, read)
