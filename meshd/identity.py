"""A device's data dir: who this device is, which mesh and facility it belongs to, its secrets.

Layout of DATA_DIR (every secret file is mode 0600):

    node.json     device id and name, mesh id, facility id and name (no secrets)
    device.key    the device's Ed25519 private key (raw 32 bytes)
    mesh.key      the 256-bit mesh key
    api-token     the bearer token scripts send to the JSON API
    store.key     the SQLCipher key, written by meshd.store.keys
    store.db      the encrypted store
    run.json      written by a running node: its pid and ports (removed on a clean stop)

This module only creates and validates these files; it never opens the store.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model.errors import ClinicMeshError
from meshd.store import keys

APP_NAME = "clinicmesh"
CONFIG_FILE = "node.json"
DEVICE_KEY_FILE = "device.key"
MESH_KEY_FILE = "mesh.key"
API_TOKEN_FILE = "api-token"
STORE_FILE = "store.db"
RUN_FILE = "run.json"
CONFIG_VERSION = 1
MESH_KEY_BYTES = 32
ED25519_KEY_BYTES = 32
API_TOKEN_BYTES = 32
DEFAULT_FACILITY_NAME = "Clinic"
MAX_NAME_CHARS = 100
SECRET_MODE = 0o600


class DataDirError(ClinicMeshError):
    """The data dir is missing, incomplete or damaged; the message says what to do."""

    code = "data_dir"


@dataclass(frozen=True, slots=True)
class Identity:
    """What node.json records: this device, its mesh and its facility."""

    device_id: str
    device_name: str
    mesh_id: str
    facility_id: str
    facility_name: str


@dataclass(frozen=True, slots=True)
class DataDir:
    """A validated data dir: its identity and the secrets a node needs to start."""

    path: Path
    identity: Identity
    device_key: Ed25519PrivateKey
    mesh_key: bytes
    api_token: str

    @property
    def store_path(self) -> Path:
        """The encrypted store file."""
        return self.path / STORE_FILE

    @property
    def run_file(self) -> Path:
        """Where a running node records its pid and ports."""
        return self.path / RUN_FILE

    def device_public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key of this device."""
        return self.device_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


def default_data_dir() -> Path:
    """The per-user data dir of clinicmesh (platformdirs)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_device_name() -> str:
    """The host name, which is how clinic staff already tell their machines apart."""
    return socket.gethostname()[:MAX_NAME_CHARS] or "device"


def is_initialised(path: Path) -> bool:
    """Whether `path` already holds a node.json."""
    return (path / CONFIG_FILE).exists()


def init_data_dir(
    path: Path,
    *,
    device_name: str,
    facility_name: str = DEFAULT_FACILITY_NAME,
    passphrase: str | None = None,
) -> DataDir:
    """Create a new device, mesh and facility in `path` (empty or absent) and return it."""
    device_name = _clean_name(device_name, "device name")
    facility_name = _clean_name(facility_name, "facility name")
    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        raise DataDirError(
            f"{path} is not empty: use another --data-dir, or `meshd run` to use it"
        )
    device_key = Ed25519PrivateKey.generate()
    _write_secret(path / DEVICE_KEY_FILE, device_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    ))
    _write_secret(path / MESH_KEY_FILE, secrets.token_bytes(MESH_KEY_BYTES))
    _write_secret(path / API_TOKEN_FILE, (secrets.token_urlsafe(API_TOKEN_BYTES) + "\n").encode())
    keys.create_key(path, passphrase)
    identity = Identity(
        device_id=str(uuid.uuid4()), device_name=device_name, mesh_id=str(uuid.uuid4()),
        facility_id=str(uuid.uuid4()), facility_name=facility_name,
    )
    config = {"version": CONFIG_VERSION, **asdict(identity)}
    # node.json is written last: its presence means the rest of the dir is complete.
    _write_file(path / CONFIG_FILE, (json.dumps(config, indent=1) + "\n").encode(), 0o644)
    return load_data_dir(path)


def load_data_dir(path: Path) -> DataDir:
    """Read and validate the data dir at `path`; DataDirError says what is wrong."""
    if not path.is_dir():
        raise DataDirError(f"no data dir at {path}: run `meshd init --data-dir {path}`")
    if not is_initialised(path):
        raise DataDirError(f"{path} has no {CONFIG_FILE}: run `meshd init --data-dir {path}`")
    identity = _read_identity(path / CONFIG_FILE)
    raw_key = _read_secret(path / DEVICE_KEY_FILE)
    if len(raw_key) != ED25519_KEY_BYTES:
        raise DataDirError(f"{path / DEVICE_KEY_FILE} is damaged (wrong length)")
    mesh_key = _read_secret(path / MESH_KEY_FILE)
    if len(mesh_key) != MESH_KEY_BYTES:
        raise DataDirError(f"{path / MESH_KEY_FILE} is damaged (wrong length)")
    token = _read_secret(path / API_TOKEN_FILE).decode("ascii", "replace").strip()
    if len(token) < API_TOKEN_BYTES:
        raise DataDirError(f"{path / API_TOKEN_FILE} is damaged (too short)")
    return DataDir(
        path=path, identity=identity,
        device_key=Ed25519PrivateKey.from_private_bytes(raw_key),
        mesh_key=mesh_key, api_token=token,
    )


def load_store_key(data_dir: DataDir, passphrase: str | None = None) -> bytes:
    """The SQLCipher key of this data dir (crdt_model StoreError on a wrong passphrase)."""
    return keys.load_key(data_dir.path, passphrase)


def _read_identity(config_path: Path) -> Identity:
    try:
        record: Any = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataDirError(f"{config_path} is unreadable ({exc})") from exc
    if not isinstance(record, dict) or record.get("version") != CONFIG_VERSION:
        raise DataDirError(f"{config_path} has an unknown format (version {CONFIG_VERSION} "
                           "expected)")
    fields = ("device_id", "device_name", "mesh_id", "facility_id", "facility_name")
    for name in fields:
        if not isinstance(record.get(name), str) or not record[name]:
            raise DataDirError(f"{config_path} lacks {name!r}")
    for name in ("device_id", "mesh_id", "facility_id"):
        try:
            uuid.UUID(record[name])
        except ValueError:
            raise DataDirError(f"{config_path}: {name} is not a UUID") from None
    return Identity(**{name: record[name] for name in fields})


def _read_secret(secret_path: Path) -> bytes:
    try:
        mode = secret_path.stat().st_mode
        data = secret_path.read_bytes()
    except FileNotFoundError:
        raise DataDirError(f"{secret_path} is missing: the data dir is incomplete") from None
    except OSError as exc:
        raise DataDirError(f"{secret_path} is unreadable ({exc})") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise DataDirError(
            f"{secret_path} is readable by other users: run `chmod 600 {secret_path}`"
        )
    return data


def _write_secret(secret_path: Path, content: bytes) -> None:
    _write_file(secret_path, content, SECRET_MODE)


def _write_file(file_path: Path, content: bytes, mode: int) -> None:
    fd = os.open(file_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


def _clean_name(value: str, what: str) -> str:
    clean = value.strip()
    if not clean or len(clean) > MAX_NAME_CHARS:
        raise DataDirError(f"the {what} must be 1–{MAX_NAME_CHARS} characters")
    return clean

