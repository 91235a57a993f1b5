"""The boundary between discovery's errors and the daemon's (ClinicMeshError).

    ClinicMeshError
    └── PairingFailed       pairing did not complete: wrong code, no open window, no inviter
"""

from __future__ import annotations

from crdt_model.errors import ClinicMeshError
from discovery.errors import DiscoveryError


class PairingFailed(ClinicMeshError):
    """Pairing with a code did not complete; `code` says why (discovery's code when it is one)."""

    code = "pairing_failed"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


def from_discovery(exc: DiscoveryError) -> ClinicMeshError:
    """The daemon's error for one raised by the discovery package."""
    return PairingFailed(exc.message, exc.code)
