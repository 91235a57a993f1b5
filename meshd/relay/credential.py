"""A clinic's relay credential: which relay, how to trust its certificate, and the shared secret.

The relay writes it (`meshd relay add-clinic`); a clinic imports it on any device (`meshd
relay-link`) and it is kept in the mesh directory's settings, so every device of the clinic can
use it. The secret takes the place of the mesh key in the sync handshake with the relay, and
`relay_key` is the relay's Ed25519 key: the handshake proves it, and it countersigns changes of
other clinics' devices (docs/ARCHITECTURE.md §5 "Relay").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import ssl
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from crdt_model.errors import ValidationError

VERSION = 1
SECRET_BYTES = 32
SYNC_PATH = "/relay/v1/sync/"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CLINIC_ID = re.compile(r"[0-9a-f]{16,32}")


@dataclass(frozen=True, slots=True)
class Credential:
    """What a clinic holds to reach its relay."""

    clinic_id: str
    clinic: str  # the clinic's name on the relay
    url: str  # https://HOST:PORT of the relay
    secret: str  # hex, 32 bytes
    relay_key: str  # hex Ed25519 public key of the relay
    ca_pem: str | None = None  # the certificate (or CA) to trust for the relay's TLS
    v: int = VERSION

    @property
    def mesh_key(self) -> bytes:
        """The key the sync handshake with the relay is salted with (in place of a mesh key)."""
        return bytes.fromhex(self.secret)

    @property
    def relay_public(self) -> bytes:
        """The relay's raw Ed25519 public key."""
        return bytes.fromhex(self.relay_key)

    @property
    def bearer(self) -> str:
        """The Authorization bearer of this credential on the relay's HTTP API."""
        return f"{self.clinic_id}.{self.secret}"

    def sync_url(self, mesh_id: str) -> str:
        """The relay's sync WebSocket for this clinic's mesh."""
        parts = urlsplit(self.url)
        return f"wss://{parts.netloc}{SYNC_PATH}{self.clinic_id}?mesh={mesh_id}"

    def ssl_context(self) -> ssl.SSLContext:
        """TLS that trusts the credential's certificate (else the system's CAs), with hostname
        and certificate checks on: never turned off."""
        return ssl.create_default_context(cadata=self.ca_pem) if self.ca_pem else (
            ssl.create_default_context())

    def with_ca(self, ca_pem: str) -> Credential:
        """The same credential trusting `ca_pem` for the relay's certificate."""
        return replace(self, ca_pem=_pem(ca_pem))

    def to_json(self) -> str:
        """The credential as one JSON text (the file, and the directory setting)."""
        return json.dumps(asdict(self), sort_keys=True)


def with_relay(device_keys: Callable[[bytes], Iterable[bytes]],
               relay_keys: Callable[[], Iterable[bytes]]) -> Callable[[bytes], Iterable[bytes]]:
    """Who may sign changes of a device (meshd.attest's `keys_for`): its own keys when the
    clinic's directory lists it, else the relay's, which countersigns what it proved of other
    clinics' devices; the relay can never sign for one of the clinic's own devices."""

    def keys_for(prefix: bytes) -> Iterable[bytes]:
        found = set(device_keys(prefix))
        return found if found else set(relay_keys())

    return keys_for


def parse(text: str) -> Credential:
    """A credential from its JSON; ValidationError naming what is wrong."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValidationError("the relay credential is not JSON", field="credential") from exc
    if not isinstance(raw, dict) or raw.get("v") != VERSION:
        raise ValidationError("not a clinicmesh relay credential (v1)", field="credential")
    fields = {k: raw.get(k) for k in ("clinic_id", "clinic", "url", "secret", "relay_key")}
    given = {k: v for k, v in fields.items() if isinstance(v, str)}
    if len(given) != len(fields):
        raise ValidationError("the relay credential misses a field", field="credential")
    if not _CLINIC_ID.fullmatch(given["clinic_id"]) or not _HEX64.fullmatch(given["secret"]) \
            or not _HEX64.fullmatch(given["relay_key"]):
        raise ValidationError("the relay credential's keys are not well formed", field="credential")
    url = urlsplit(given["url"])
    if url.scheme != "https" or not url.netloc:
        raise ValidationError("the relay URL must be https://HOST:PORT", field="url")
    ca = raw.get("ca_pem")
    return Credential(given["clinic_id"], given["clinic"], given["url"], given["secret"],
                      given["relay_key"], ca_pem=_pem(ca) if isinstance(ca, str) else None)


def read_file(path: Path) -> Credential:
    """The credential in a file written by `write_file`."""
    return parse(path.read_text(encoding="utf-8"))


def write_file(credential: Credential, path: Path) -> None:
    """Write the credential, readable by its owner only (it holds the secret)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(credential.to_json() + "\n")
    os.replace(tmp, path)


def new_secret() -> str:
    """A fresh random secret, hex."""
    return os.urandom(SECRET_BYTES).hex()


def secret_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex secrets."""
    return hmac.compare_digest(expected.encode(), given.encode())


def fingerprint(pem: str) -> str:
    """SHA-256 of a certificate PEM's text, for an operator to compare."""
    return hashlib.sha256(pem.encode()).hexdigest()


def _pem(text: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValidationError("the relay certificate is not a PEM certificate", field="ca_pem")
    return text
