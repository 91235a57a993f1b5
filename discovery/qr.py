"""The pairing invitation as a URI and a QR code: printed in the terminal, saved as PNG or SVG.

`clinicmesh://pair?code=123456&host=10.0.0.5&port=7701`: the new device scans it instead of
typing the code. The URI holds only the code and where to dial: nothing names the clinic.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

import segno

from discovery.errors import InvalidPairingInvite, WrongCode
from discovery.pairing import normalize_code
from discovery.static import parse_peer

PAIRING_URI_SCHEME = "clinicmesh"
QR_FILE_SCALE = 8  # pixels per module in saved images: readable from a phone at arm's length


@dataclass(frozen=True, slots=True)
class PairingInvite:
    """What a new device needs to pair: the code and the inviting device's peer address."""

    code: str
    host: str
    port: int

    def uri(self) -> str:
        """The `clinicmesh://pair?...` URI of this invitation."""
        query = urlencode({"code": self.code, "host": self.host, "port": self.port})
        return f"{PAIRING_URI_SCHEME}://pair?{query}"


def pairing_uri(code: str, host: str, port: int) -> str:
    """The invitation URI for `code` at host:port (validated)."""
    return _invite(code, host, str(port), f"{host}:{port}").uri()


def parse_pairing_uri(uri: str) -> PairingInvite:
    """The invitation in a scanned or pasted URI, or InvalidPairingInvite."""
    parts = urlsplit(uri.strip())
    if parts.scheme != PAIRING_URI_SCHEME or parts.netloc != "pair":
        raise InvalidPairingInvite("this is not a clinicmesh pairing code: scan the one shown")
    query = parse_qs(parts.query)
    try:
        (code,), (host,), (port,) = query["code"], query["host"], query["port"]
    except (KeyError, ValueError):
        raise InvalidPairingInvite("the pairing code is incomplete: scan it again") from None
    return _invite(code, host, port, uri)


def print_qr(uri: str, out: TextIO | None = None) -> None:
    """Draw the QR of `uri` in the terminal (half-block characters)."""
    segno.make(uri, error="m").terminal(out=out or sys.stdout, compact=True)


def save_qr(uri: str, path: Path) -> Path:
    """Save the QR of `uri` as PNG or SVG, chosen by the file suffix; returns the path."""
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"save the QR code as .png or .svg, not {path.suffix or 'no suffix'}")
    segno.make(uri, error="m").save(str(path), scale=QR_FILE_SCALE, border=4)
    return path


def _invite(code: str, host: str, port: str, shown: str) -> PairingInvite:
    try:
        digits = normalize_code(code)
    except WrongCode:
        raise InvalidPairingInvite("the pairing code in this invitation is not 6 digits") from None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        peer = parse_peer(target)
    except ValueError as error:
        raise InvalidPairingInvite(f"invitation {shown!r}: {error}") from None
    return PairingInvite(digits, peer.host, peer.port)
