"""Sealed frames: unreadable, tamper-evident, not replayable; keys depend on the mesh key."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crdt_model.errors import SyncError
from meshd.sync import crypto


def _pair() -> tuple[crypto.FrameSealer, crypto.FrameOpener]:
    key = os.urandom(32)
    return crypto.FrameSealer(key), crypto.FrameOpener(key)


def test_sealed_frame_opens_once_in_order_and_hides_its_content() -> None:
    sealer, opener = _pair()
    first, second = sealer.seal(b"allergy: penicillin"), sealer.seal(b"second")
    assert b"penicillin" not in first
    assert opener.open(first) == b"allergy: penicillin"
    with pytest.raises(SyncError):
        opener.open(first)  # replayed
    assert opener.open(second) == b"second"


def test_reordered_or_bit_flipped_frames_are_rejected() -> None:
    sealer, opener = _pair()
    first, second = sealer.seal(b"one"), sealer.seal(b"two")
    with pytest.raises(SyncError):
        opener.open(second)
    flipped = bytearray(first)
    flipped[5] ^= 0x01
    with pytest.raises(SyncError):
        opener.open(bytes(flipped))
    with pytest.raises(SyncError):
        opener.open(b"\x02" + first[1:])  # unknown frame version
    assert opener.open(first) == b"one"


def test_session_keys_differ_with_another_mesh_key() -> None:
    a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    transcript = crypto.transcript_hash(b"hello", b"reply")
    mesh = os.urandom(32)
    keys_a = crypto.session_keys(a, crypto.public_bytes(b), mesh, transcript)
    keys_b = crypto.session_keys(b, crypto.public_bytes(a), mesh, transcript)
    other = crypto.session_keys(b, crypto.public_bytes(a), os.urandom(32), transcript)
    assert keys_a == keys_b
    assert other != keys_a and keys_a[0] != keys_a[1]


def test_transcript_signature_binds_role_and_transcript() -> None:
    key = Ed25519PrivateKey.generate()
    public = crypto.public_bytes(key)
    signature = crypto.sign_transcript(key, b"dialer", b"t" * 32)
    crypto.verify_transcript(public, b"dialer", b"t" * 32, signature)
    with pytest.raises(SyncError):
        crypto.verify_transcript(public, b"listener", b"t" * 32, signature)
    with pytest.raises(SyncError):
        crypto.verify_transcript(public, b"dialer", b"u" * 32, signature)
