"""The exceptions of the discovery package.

discovery imports no other package of clinicmesh (docs/ARCHITECTURE.md §2), so it has its own
small hierarchy; the daemon catches `DiscoveryError` at its boundary and maps it to its own errors.

    DiscoveryError
    ├── PeerAddressError        a `--peer` value that is not HOST:PORT (also a ValueError)
    ├── InvalidPairingInvite    a pairing URI or QR text that is not ours (also a ValueError)
    └── PairingError            pairing with a code did not complete
        ├── WrongCode           the 6-digit code did not match; nothing secret was exchanged
        ├── PairingClosed       no pairing window is open (expired, used, or too many attempts)
        └── PairingProtocolError  a malformed, out-of-order or replayed pairing message
"""

from __future__ import annotations


class DiscoveryError(Exception):
    """Base of every error the discovery package raises on purpose; `code` is stable."""

    code = "discovery_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PeerAddressError(DiscoveryError, ValueError):
    """A static peer address that can't be used; the message says how to write it."""

    code = "invalid_peer"


class InvalidPairingInvite(DiscoveryError, ValueError):
    """A pairing URI (typed or scanned) that is not a clinicmesh invitation."""

    code = "invalid_invite"


class PairingError(DiscoveryError):
    """Pairing a new device did not complete; no mesh secret was handed over."""

    code = "pairing_failed"


class WrongCode(PairingError):
    """The code typed on the new device is not the one shown on the inviting device."""

    code = "wrong_code"


class PairingClosed(PairingError):
    """The inviting device has no open pairing window (expired, used, or three wrong codes)."""

    code = "pairing_closed"


class PairingProtocolError(PairingError):
    """A pairing message that is malformed, out of order, or replayed from another session."""

    code = "pairing_protocol"
