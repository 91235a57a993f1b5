"""The web UI's service Protocol implemented on this node (see `meshd.clinic_ui`)."""

from __future__ import annotations

from meshd.clinic_ui.mount import mount_ui, service_for
from meshd.clinic_ui.service import NodeClinicService

__all__ = ["NodeClinicService", "mount_ui", "service_for"]
