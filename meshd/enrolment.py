"""An invited device's invite key, kept in its data dir until its first handshake spends it.

`meshd init --invite` gives the new device a key of its own (device.key) and keeps the invite's
key aside (invite.key, sealed like the other secrets when there is a passphrase). The first
handshake with the inviter proves the invite's key and enrols the device's own key in its
place (meshd.sync.handshake); the invite's key is then deleted, and no node accepts it again.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshd.identity import ED25519_KEY_BYTES, DataDir
from meshd.secret_files import DataDirError, read_sealed, write_secret

INVITE_KEY_FILE = "invite.key"


def keep_invite_key(data_dir: Path, raw_key: bytes, seal_with: bytes | None) -> None:
    """Keep the invite's raw Ed25519 key until the device is enrolled (sealed with `seal_with`)."""
    if len(raw_key) != ED25519_KEY_BYTES:
        raise DataDirError("an invite key must be 32 bytes")
    write_secret(data_dir / INVITE_KEY_FILE, raw_key, seal_with)


def invite_key(data: DataDir) -> Ed25519PrivateKey | None:
    """The invite key this device has not spent yet, or None once it is enrolled."""
    path = data.path / INVITE_KEY_FILE
    if not path.exists():
        return None
    raw = read_sealed(path, data.sealing_key)
    if len(raw) != ED25519_KEY_BYTES:
        raise DataDirError(f"{path} is damaged (wrong length)")
    return Ed25519PrivateKey.from_private_bytes(raw)


def forget_invite_key(data_dir: Path) -> None:
    """The invite is spent: its key goes."""
    (data_dir / INVITE_KEY_FILE).unlink(missing_ok=True)
