"""A mesh key sealed to one device, with the X25519 key derived from its Ed25519 identity.

Choice (documented for the lead): a device has no second key pair. Its Ed25519 identity is
converted to X25519 the way libsodium's `crypto_sign_ed25519_*_to_curve25519` and age's ssh-ed25519
recipients do: the private scalar is the clamped first half of SHA-512(seed), the public key the
birational map u = (1 + y) / (1 - y) mod p. So every device already rostered (by an invite, a
pairing or a test) can receive a rotated key, and the directory needs no new field.

Sealed form (hex in the directory): version byte | ephemeral X25519 public (32) |
ChaCha20-Poly1305(key = HKDF(ECDH), nonce = 0, aad = context) of the 32-byte mesh key. The key
is used once, so the fixed nonce is safe; `context` binds mesh, epoch, rotator and recipient.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crdt_model.errors import ClinicMeshError

SEAL_VERSION = 1
KEY_BYTES = 32
_P = 2**255 - 19
_SEAL_INFO = b"clinicmesh mesh key seal v1"
_ZERO_NONCE = bytes(12)


class SealError(ClinicMeshError):
    """A sealed mesh key that is not for this device, or damaged."""

    code = "sealed_key"


def x25519_public_from_ed25519(public_key: bytes) -> bytes:
    """The X25519 public key matching a raw Ed25519 public key; SealError if it is not one."""
    if len(public_key) != KEY_BYTES:
        raise SealError("a device key has 32 bytes")
    y = int.from_bytes(public_key, "little") & ((1 << 255) - 1)
    if y >= _P or (1 - y) % _P == 0:
        raise SealError("this device key is not a usable Ed25519 point")
    u = (1 + y) * pow((1 - y) % _P, -1, _P) % _P
    return u.to_bytes(KEY_BYTES, "little")


def x25519_private_from_ed25519(device_key: Ed25519PrivateKey) -> X25519PrivateKey:
    """The X25519 private key matching an Ed25519 identity key (clamped SHA-512 of the seed)."""
    seed = device_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    scalar = bytearray(hashlib.sha512(seed).digest()[:KEY_BYTES])
    scalar[0] &= 248
    scalar[31] &= 127
    scalar[31] |= 64
    return X25519PrivateKey.from_private_bytes(bytes(scalar))


def seal_context(mesh_id: str, epoch: int, rotator_id: str, recipient_id: str) -> bytes:
    """What a sealed key is bound to: it opens only for this mesh, epoch, rotator, recipient."""
    return f"{mesh_id}\x00{epoch}\x00{rotator_id}\x00{recipient_id}".encode()


def seal_mesh_key(mesh_key: bytes, recipient_ed25519: bytes, context: bytes) -> bytes:
    """`mesh_key` sealed so only the holder of the recipient's identity key can open it."""
    if len(mesh_key) != KEY_BYTES:
        raise SealError("a mesh key has 32 bytes")
    recipient = x25519_public_from_ed25519(recipient_ed25519)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    except ValueError as exc:  # a low-order point
        raise SealError("this device key can't receive a sealed key") from exc
    aead = ChaCha20Poly1305(_wrap_key(shared, ephemeral_public, recipient, context))
    return bytes([SEAL_VERSION]) + ephemeral_public + aead.encrypt(_ZERO_NONCE, mesh_key, context)


def open_mesh_key(sealed: bytes, device_key: Ed25519PrivateKey, context: bytes) -> bytes:
    """The mesh key in `sealed`; SealError if it was not sealed to this device and context."""
    if len(sealed) != 1 + KEY_BYTES + KEY_BYTES + 16 or sealed[0] != SEAL_VERSION:
        raise SealError("a sealed key of unknown form")
    ephemeral_public = sealed[1:1 + KEY_BYTES]
    private = x25519_private_from_ed25519(device_key)
    own_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        aead = ChaCha20Poly1305(_wrap_key(shared, ephemeral_public, own_public, context))
        return aead.decrypt(_ZERO_NONCE, sealed[1 + KEY_BYTES:], context)
    except (ValueError, InvalidTag) as exc:
        raise SealError("this sealed key is not for this device") from exc


def _wrap_key(shared: bytes, ephemeral_public: bytes, recipient: bytes, context: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
        info=_SEAL_INFO + ephemeral_public + recipient + context,
    ).derive(shared)
