"""The secret files of a data dir, sealed under the passphrase when the device has one.

With a passphrase the store key is wrapped by scrypt (meshd.store.keys), and every other secret
file (device.key, mesh.key, mesh-keys.json) is sealed with ChaCha20-Poly1305 under a key derived
from the store key by HKDF: one scrypt per start, and changing the passphrase re-wraps the store
key alone. A sealed file is `SEALED_MAGIC | nonce | ciphertext`, its name as associated data (so
two sealed files can't be swapped). Without a passphrase the files hold their secrets raw: a copy
of the data dir then opens everything, which `meshd init` and `meshd run` say.

Every secret file is mode 0600 and replaced atomically. This module never opens the store.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crdt_model.errors import ClinicMeshError
from meshd.store import keys

SECRET_MODE = 0o600
SEALED_MAGIC = b"clinicmesh sealed v1\n"
NONCE_BYTES = 12
SEALING_KEY_BYTES = 32
_SEALING_INFO = b"clinicmesh data dir secret files v1"
NO_PASSPHRASE_WARNING = (
    "this device has no passphrase: anyone with a copy of its data dir can open its patient "
    "records and join its mesh (set one with --passphrase-file)"
)


class DataDirError(ClinicMeshError):
    """The data dir is missing, incomplete or damaged; the message says what to do."""

    code = "data_dir"


def sealing_key(store_key: bytes) -> bytes:
    """The key that seals the data dir's other secret files, derived from the store key."""
    return HKDF(algorithm=hashes.SHA256(), length=SEALING_KEY_BYTES, salt=None,
                info=_SEALING_INFO).derive(store_key)


def is_sealed(content: bytes) -> bool:
    """Whether `content` is a sealed secret file."""
    return content.startswith(SEALED_MAGIC)


def seal(content: bytes, key: bytes, name: str) -> bytes:
    """`content` sealed under `key` for the file called `name`."""
    nonce = os.urandom(NONCE_BYTES)
    return SEALED_MAGIC + nonce + ChaCha20Poly1305(key).encrypt(nonce, content, name.encode())


def unseal(content: bytes, key: bytes | None, path: Path) -> bytes:
    """The secret in a file's `content`: as is when raw, opened with `key` when sealed."""
    if not is_sealed(content):
        return content
    if key is None:
        raise DataDirError(
            f"{path} is sealed by this device's passphrase: give it with --passphrase-file")
    body = content[len(SEALED_MAGIC):]
    try:
        return ChaCha20Poly1305(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                             path.name.encode())
    except (InvalidTag, ValueError):
        raise DataDirError(f"{path} does not open with this passphrase (damaged?)") from None


def sealing_key_of(data_dir: Path, passphrase: str | None, names: tuple[str, ...]) -> bytes | None:
    """The key of a data dir's sealed files (None: it has no passphrase and nothing sealed)."""
    if keys.has_passphrase(data_dir):
        if passphrase is None:
            raise DataDirError(
                f"{data_dir} is protected by a passphrase: give --passphrase-file")
        return sealing_key(keys.load_key(data_dir, passphrase))
    # Files still sealed after the passphrase was removed: the raw store key opens them.
    if any(is_sealed((data_dir / name).read_bytes()) for name in names
           if (data_dir / name).exists()):
        return sealing_key(keys.load_key(data_dir))
    return None


def read_sealed(path: Path, key: bytes | None) -> bytes:
    """A secret file's secret; a raw one is sealed in place when its dir has a passphrase
    (a data dir made before files were sealed)."""
    content = read_secret(path)
    secret = unseal(content, key, path)
    if key is not None and secret is content and keys.has_passphrase(path.parent):
        replace_secret(path, secret, key)
    return secret


def read_secret(path: Path) -> bytes:
    """The bytes of a secret file, refused when other users may read it."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataDirError(f"{path} is missing: the data dir is incomplete") from None
    except OSError as exc:
        raise DataDirError(f"{path} is unreadable ({exc})") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise DataDirError(f"{path} is readable by other users: run `chmod 600 {path}`")
    return data


def write_secret(path: Path, content: bytes, key: bytes | None) -> None:
    """Create a secret file (0600), sealed when `key` is given; it must not exist yet."""
    write_file(path, seal(content, key, path.name) if key is not None else content, SECRET_MODE)


def replace_secret(path: Path, content: bytes, key: bytes | None) -> None:
    """Replace a secret file atomically (sealed when `key` is given)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    sealed = seal(content, key, path.name) if key is not None else content
    write_file(tmp, sealed, SECRET_MODE)
    os.replace(tmp, path)


def write_file(path: Path, content: bytes, mode: int) -> None:
    """Create `path` with `mode` and `content`, durably; it must not exist yet."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
