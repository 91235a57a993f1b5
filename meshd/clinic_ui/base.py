"""What every part of the UI adapter shares: the clinic core and who is acting.

Writes act as the user id the UI passes as `by`; reads (which the UI's Protocol does not stamp)
act as the user the UI middleware put in `current_reader` for the request being served, so the
audit log names the person who opened a chart.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from meshd.backup import DeviceBackups
from meshd.clinic import Caller, Clinic
from meshd.relay.patients import RelayPatients

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


class ServiceBase:
    """The node's clinic core as the UI's `ClinicService` sees it."""

    def __init__(
        self, clinic: Clinic, *, sync_report: EngineReport = no_sync,
        relay_url: str | None = None, backups: DeviceBackups | None = None,
        relay_patients: RelayPatients | None = None,
    ) -> None:
        self.clinic = clinic
        self.relay_patients = relay_patients  # other clinics through the relay, on a node
        self.identity = clinic.identity
        self._sync_report = sync_report
        self._relay_url = relay_url
        self.backups = backups  # None where no data dir backs the clinic (tests, tools)
        self._started_ms = clinic.now_ms()

    def writer(self, by: str) -> Caller:
        """The caller of a write by user `by` through the UI."""
        return Caller(user=by, origin=UI_ORIGIN)

    def reader(self, by: str = "") -> Caller:
        """The caller of a read: `by`, else the logged-in user of the request being served."""
        return Caller(user=by or current_reader.get(), origin=UI_ORIGIN)
