"""The SQLCipher key of a device: a random 256-bit key kept in `<data-dir>/store.key`.

Without a passphrase the key file holds the key itself (mode 0600). With a passphrase the key is
sealed (ChaCha20-Poly1305) under a key derived from the passphrase with scrypt; the salt and
scrypt parameters live in the key file. The file is always replaced atomically (tmp + fsync +
rename) so a crash never leaves a half-written key. This module never opens the database.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crdt_model.errors import StoreError

KEY_FILE_NAME = "store.key"
KEY_BYTES = 32
KEY_FILE_VERSION = 1
# scrypt cost: ~0.1 s and 32 MiB on a small device, paid once at start-up.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
NONCE_BYTES = 12
_WRAP_AAD = b"clinicmesh store key v1"


def key_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the store key of `data_dir` lives."""
    return Path(data_dir) / KEY_FILE_NAME


def create_key(data_dir: str | os.PathLike[str], passphrase: str | None = None) -> bytes:
    """Make a fresh random store key, save it (wrapped when `passphrase`), and return it."""
    path = key_path(data_dir)
    if path.exists():
        raise StoreError(f"a store key already exists at {path}; refusing to replace it")
    key = os.urandom(KEY_BYTES)
    _write_atomically(path, _encode(key, passphrase))
    return key


def load_key(data_dir: str | os.PathLike[str], passphrase: str | None = None) -> bytes:
    """The store key of `data_dir`; StoreError when missing, damaged or the passphrase is wrong."""
    path = key_path(data_dir)
    try:
        record = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise StoreError(f"no store key at {path}: run `meshd init` first") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"the store key at {path} is unreadable ({exc})") from exc
    return _decode(record, passphrase, path)


def change_passphrase(
    data_dir: str | os.PathLike[str], old: str | None, new: str | None
) -> None:
    """Re-wrap the store key under `new` (None removes the passphrase); the key is unchanged."""
    key = load_key(data_dir, old)
    _write_atomically(key_path(data_dir), _encode(key, new))


def has_passphrase(data_dir: str | os.PathLike[str]) -> bool:
    """Whether the store key of `data_dir` is protected by a passphrase."""
    try:
        record = json.loads(key_path(data_dir).read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("kind") == "scrypt"


def _encode(key: bytes, passphrase: str | None) -> bytes:
    record: dict[str, Any]
    if passphrase is None:
        record = {"version": KEY_FILE_VERSION, "kind": "raw", "key": _b64(key)}
    else:
        salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        wrapping = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        sealed = ChaCha20Poly1305(wrapping).encrypt(nonce, key, _WRAP_AAD)
        record = {
            "version": KEY_FILE_VERSION, "kind": "scrypt",
            "salt": _b64(salt), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
            "nonce": _b64(nonce), "sealed": _b64(sealed),
        }
    return json.dumps(record, indent=1).encode() + b"\n"


def _decode(record: Any, passphrase: str | None, path: Path) -> bytes:
    if not isinstance(record, dict) or record.get("version") != KEY_FILE_VERSION:
        raise StoreError(f"the store key at {path} has an unknown format")
    try:
        if record["kind"] == "raw":
            if passphrase is not None:
                raise StoreError(f"the store key at {path} is not protected by a passphrase")
            key = base64.b64decode(record["key"], validate=True)
        elif record["kind"] == "scrypt":
            if passphrase is None:
                raise StoreError(f"the store key at {path} is protected: give the passphrase")
            wrapping = _derive(
                passphrase, base64.b64decode(record["salt"]),
                int(record["n"]), int(record["r"]), int(record["p"]),
            )
            key = ChaCha20Poly1305(wrapping).decrypt(
                base64.b64decode(record["nonce"]), base64.b64decode(record["sealed"]), _WRAP_AAD
            )
        else:
            raise StoreError(f"the store key at {path} has an unknown kind")
    except InvalidTag:
        raise StoreError("wrong passphrase for the store key: try again") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"the store key at {path} is damaged ({exc})") from exc
    if len(key) != KEY_BYTES:
        raise StoreError(f"the store key at {path} is damaged (wrong length)")
    return key


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(passphrase.encode())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _write_atomically(path: Path, content: bytes) -> None:
    """Replace `path` with `content` (mode 0600) so a crash leaves the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)
