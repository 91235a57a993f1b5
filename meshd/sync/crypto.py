"""Session cryptography of the peer protocol: key agreement, transcript signatures, sealed frames.

Keys: an ephemeral X25519 exchange per session, mixed with the 256-bit mesh key by HKDF over the
handshake transcript, gives one ChaCha20-Poly1305 key per direction. Each frame's nonce is a
counter per direction that the receiver tracks itself, so a frame replayed, reordered, dropped
or altered fails to open. A frame is `FRAME_VERSION` (one byte, also the AEAD associated data)
followed by the ciphertext. This module holds no sockets and no state beyond the counters.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crdt_model.errors import SyncError

FRAME_VERSION = 1
SESSION_KEY_BYTES = 32
MESH_KEY_BYTES = 32
_COUNTER_LIMIT = 2**64 - 1
_KDF_INFO = b"clinicmesh session keys v1"
_SIGN_CONTEXT = b"clinicmesh peer auth v1"
_HEADER = bytes([FRAME_VERSION])


def public_bytes(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    """The raw 32-byte public key of a private key."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def transcript_hash(*frames: bytes) -> bytes:
    """SHA-256 over the length-prefixed clear handshake frames, which both signatures cover."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(len(frame).to_bytes(4, "big"))
        digest.update(frame)
    return digest.digest()


def session_keys(
    ephemeral: X25519PrivateKey, peer_ephemeral: bytes, mesh_key: bytes, transcript: bytes
) -> tuple[bytes, bytes]:
    """(dialer-to-listener key, listener-to-dialer key) from the exchange and the mesh key."""
    if len(mesh_key) != MESH_KEY_BYTES:
        raise SyncError("the mesh key must be 32 bytes")
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(peer_ephemeral))
    except ValueError as exc:  # a low-order point gives an all-zero secret
        raise SyncError("bad ephemeral key from peer") from exc
    okm = HKDF(
        algorithm=hashes.SHA256(), length=2 * SESSION_KEY_BYTES, salt=mesh_key,
        info=_KDF_INFO + transcript,
    ).derive(shared)
    return okm[:SESSION_KEY_BYTES], okm[SESSION_KEY_BYTES:]


def sign_transcript(device_key: Ed25519PrivateKey, role: bytes, transcript: bytes) -> bytes:
    """The device's signature binding its identity to this session's transcript and role."""
    return device_key.sign(_SIGN_CONTEXT + role + transcript)


def verify_transcript(public_key: bytes, role: bytes, transcript: bytes, signature: bytes) -> None:
    """Check a peer's transcript signature; SyncError if it does not verify."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, _SIGN_CONTEXT + role + transcript
        )
    except (InvalidSignature, ValueError) as exc:
        raise SyncError("the peer's signature does not verify") from exc


def _nonce(counter: int) -> bytes:
    return bytes(4) + counter.to_bytes(8, "big")


class FrameSealer:
    """Seals outgoing frames of one direction with a counter nonce."""

    __slots__ = ("_aead", "_counter")

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0

    def seal(self, plaintext: bytes) -> bytes:
        """The sealed frame for `plaintext`; each call uses the next nonce."""
        if self._counter >= _COUNTER_LIMIT:
            raise SyncError("session exhausted its nonces; reconnect")
        frame = _HEADER + self._aead.encrypt(_nonce(self._counter), plaintext, _HEADER)
        self._counter += 1
        return frame


class FrameOpener:
    """Opens incoming frames of one direction, in order, each exactly once."""

    __slots__ = ("_aead", "_counter")

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0

    def open(self, frame: bytes) -> bytes:
        """The plaintext of the next frame; SyncError if altered, replayed, reordered or foreign."""
        if len(frame) < 1 or frame[:1] != _HEADER:
            raise SyncError("frame has an unknown protocol version")
        try:
            plaintext = self._aead.decrypt(_nonce(self._counter), frame[1:], _HEADER)
        except InvalidTag as exc:
            raise SyncError("frame failed authentication") from exc
        self._counter += 1
        return plaintext
