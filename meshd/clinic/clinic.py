"""Clinic: everything this device does for its clinic, whichever door asks (API, UI, CLI)."""

from __future__ import annotations

from meshd.clinic.administration import Administration
from meshd.clinic.registration import Registration


class Clinic(Administration, Registration):
    """Registration, clinical care, laboratory, pharmacy and stock, patient flow and
    administration of this device's clinic, on its documents and read model, audited."""
