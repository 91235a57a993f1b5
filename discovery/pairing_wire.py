"""The pairing messages and the key schedule that turns a SPAKE2 key into MAC and AEAD keys.

Pure: no I/O, no clock. A message is `version byte | kind byte | body`. After SPAKE2 both sides
derive, with HKDF over the PAKE key and a hash of both PAKE messages, four one-use keys: one
confirmation MAC key and one ChaCha20-Poly1305 key per direction. Each AEAD key seals exactly
one message in a session, so a fixed nonce never repeats under a key.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from discovery.errors import PairingClosed, PairingError, PairingProtocolError, WrongCode

PAIRING_PROTOCOL_VERSION = 1
MAX_PAIRING_MESSAGE_BYTES = 1024 * 1024  # mesh key + roster of a clinic fit many times over
# What the inviter accepts from a stranger: PAKE, MAC and a sealed identity are tiny.
MAX_JOINER_MESSAGE_BYTES = 64 * 1024
CONFIRMATION_BYTES = 32
_KEY_BYTES = 32
_SCHEDULE_INFO = b"clinicmesh pairing v1 key schedule"
_ZERO_NONCE = bytes(12)  # safe: every AEAD key below seals one message only
_JOINER_LABEL = b"clinicmesh pairing v1 joiner"
_INVITER_LABEL = b"clinicmesh pairing v1 inviter"


class Kind(enum.IntEnum):
    """What a pairing message carries."""

    JOINER_PAKE = 1  # joiner → inviter: SPAKE2 side A message
    INVITER_PAKE = 2  # inviter → joiner: SPAKE2 side B message
    JOINER_CONFIRM = 3  # joiner → inviter: key-confirmation MAC
    INVITER_SECRET = 4  # inviter → joiner: its MAC, then the sealed mesh secret
    JOINER_IDENTITY = 5  # joiner → inviter: the sealed device public key and name
    DONE = 6  # inviter → joiner: the new device is in the roster
    FAILED = 15  # either way: why pairing stopped (never secret)


_FAILURES: dict[str, type[PairingError]] = {
    WrongCode.code: WrongCode,
    PairingClosed.code: PairingClosed,
    PairingProtocolError.code: PairingProtocolError,
}


def encode(kind: Kind, body: bytes = b"") -> bytes:
    """One pairing message on the wire."""
    return bytes((PAIRING_PROTOCOL_VERSION, kind)) + body


def decode(message: bytes) -> tuple[Kind, bytes]:
    """The kind and body of a message; a FAILED message raises the error it reports."""
    if len(message) < 2 or len(message) > MAX_PAIRING_MESSAGE_BYTES:
        raise PairingProtocolError("a pairing message has a bad length")
    if message[0] != PAIRING_PROTOCOL_VERSION:
        raise PairingProtocolError(
            f"the other device speaks pairing version {message[0]}, this one "
            f"{PAIRING_PROTOCOL_VERSION}: update clinicmesh on the older device"
        )
    try:
        kind = Kind(message[1])
    except ValueError:
        raise PairingProtocolError(f"unknown pairing message kind {message[1]}") from None
    body = message[2:]
    if kind is Kind.FAILED:
        raise failure_from_body(body)
    return kind, body


def encode_failure(error: PairingError) -> bytes:
    """A FAILED message telling the other side why pairing stopped."""
    text = f"{error.code}\n{error.message}".encode()[:1000]
    return encode(Kind.FAILED, text)


def failure_from_body(body: bytes) -> PairingError:
    """The error a FAILED message reports, as this side raises it."""
    code, _, text = body.decode("utf-8", errors="replace").partition("\n")
    return _FAILURES.get(code, PairingError)(text or "the other device stopped pairing")


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The one-use keys of one pairing session, derived from the SPAKE2 key."""

    transcript: bytes
    joiner_confirm: bytes
    inviter_confirm: bytes
    inviter_seal: bytes
    joiner_seal: bytes

    @classmethod
    def derive(cls, pake_key: bytes, joiner_pake: bytes, inviter_pake: bytes) -> SessionKeys:
        """Keys bound to this session's PAKE key and both PAKE messages."""
        transcript = hashlib.sha256(
            len(joiner_pake).to_bytes(2, "big") + joiner_pake + inviter_pake
        ).digest()
        material = HKDF(
            algorithm=hashes.SHA256(), length=4 * _KEY_BYTES, salt=transcript, info=_SCHEDULE_INFO
        ).derive(pake_key)
        parts = [material[i : i + _KEY_BYTES] for i in range(0, len(material), _KEY_BYTES)]
        return cls(transcript, parts[0], parts[1], parts[2], parts[3])

    def joiner_mac(self) -> bytes:
        """The joiner's proof that it derived the same key (so knew the code)."""
        return hmac.digest(self.joiner_confirm, _JOINER_LABEL + self.transcript, "sha256")

    def inviter_mac(self) -> bytes:
        """The inviter's proof that it derived the same key."""
        return hmac.digest(self.inviter_confirm, _INVITER_LABEL + self.transcript, "sha256")

    def seal_for_joiner(self, payload: bytes) -> bytes:
        """The mesh secret sealed so only this session's joiner opens it."""
        return ChaCha20Poly1305(self.inviter_seal).encrypt(_ZERO_NONCE, payload, _INVITER_LABEL)

    def open_from_inviter(self, sealed: bytes) -> bytes:
        """The mesh secret, or PairingProtocolError if it was altered."""
        return _open(self.inviter_seal, sealed, _INVITER_LABEL)

    def seal_for_inviter(self, payload: bytes) -> bytes:
        """The joiner's identity sealed so only this session's inviter opens it."""
        return ChaCha20Poly1305(self.joiner_seal).encrypt(_ZERO_NONCE, payload, _JOINER_LABEL)

    def open_from_joiner(self, sealed: bytes) -> bytes:
        """The joiner's identity, or PairingProtocolError if it was altered."""
        return _open(self.joiner_seal, sealed, _JOINER_LABEL)


def _open(key: bytes, sealed: bytes, label: bytes) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, sealed, label)
    except InvalidTag:
        raise PairingProtocolError("a sealed pairing message was altered or replayed") from None


def macs_match(expected: bytes, received: bytes) -> bool:
    """Constant-time comparison, so timing reveals nothing about the right MAC."""
    return hmac.compare_digest(expected, received)
