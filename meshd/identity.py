"""A device's data dir: who this device is, which mesh and facility it belongs to, its secrets.

Layout of DATA_DIR (every secret file is mode 0600):

    node.json     device id and name, mesh id, facility id and name, and the peers to dial
                  by default (`peers`, written by `init --invite`; no secrets)
    device.key    the device's Ed25519 private key (raw 32 bytes)
    mesh.key      the 256-bit mesh key (the newest epoch's, once keys have been rotated)
    mesh-keys.json  every mesh key this device holds, by epoch (written once a second epoch
                  exists: by pairing or a revocation; absent means mesh.key is epoch 0)
    api-token     the bearer token scripts send to the JSON API
    store.key     the SQLCipher key, written by meshd.store.keys
    store.db      the encrypted store
    run.json      written by a running node: its pid and ports (removed on a clean stop)

This module only creates and validates these files; it never opens the store.
"""

from __future__ import annotations

import json
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshd.secret_files import SECRET_MODE as SECRET_MODE
from meshd.secret_files import DataDirError as DataDirError
from meshd.secret_files import read_secret as _read_secret
from meshd.secret_files import replace_secret as _replace_secret
from meshd.secret_files import write_file as _write_file
from meshd.secret_files import write_secret as _write_secret
from meshd.store import keys

APP_NAME = "clinicmesh"
CONFIG_FILE = "node.json"
DEVICE_KEY_FILE = "device.key"
MESH_KEY_FILE = "mesh.key"
KEYRING_FILE = "mesh-keys.json"
KEYRING_VERSION = 1
API_TOKEN_FILE = "api-token"
STORE_FILE = "store.db"
RUN_FILE = "run.json"
CONFIG_VERSION = 1
MESH_KEY_BYTES = 32
ED25519_KEY_BYTES = 32
API_TOKEN_BYTES = 32
DEFAULT_FACILITY_NAME = "Clinic"
MAX_NAME_CHARS = 100


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
    mesh_epoch: int = 0  # the epoch of `mesh_key`, the newest this device holds
    mesh_keys: tuple[tuple[int, bytes], ...] = ()  # (epoch, key), newest first

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
    identity = Identity(
        device_id=str(uuid.uuid4()), device_name=_clean_name(device_name, "device name"),
        mesh_id=str(uuid.uuid4()), facility_id=str(uuid.uuid4()),
        facility_name=_clean_name(facility_name, "facility name"),
    )
    device_key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return _create(path, identity, device_key, secrets.token_bytes(MESH_KEY_BYTES), (),
                   passphrase)


def adopt_identity(
    path: Path,
    identity: Identity,
    *,
    device_key: bytes,
    mesh_key: bytes,
    peers: Sequence[str] = (),
    passphrase: str | None = None,
) -> DataDir:
    """Create `path` (empty or absent) for a device whose identity was made elsewhere (an invite).

    `device_key` is the raw Ed25519 private key; `peers` (HOST:PORT) go to node.json, where
    `meshd run` dials them by default.
    """
    identity = Identity(**{
        **asdict(identity),
        "device_name": _clean_name(identity.device_name, "device name"),
        "facility_name": _clean_name(identity.facility_name, "facility name"),
    })
    if len(device_key) != ED25519_KEY_BYTES or len(mesh_key) != MESH_KEY_BYTES:
        raise DataDirError("the device key and mesh key must be 32 bytes each")
    return _create(path, identity, device_key, mesh_key, peers, passphrase)


def configured_peers(path: Path) -> tuple[str, ...]:
    """The peers node.json says to dial by default (none when it names none)."""
    try:
        record: Any = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    peers = record.get("peers") if isinstance(record, dict) else None
    if not isinstance(peers, list):
        return ()
    return tuple(peer for peer in peers if isinstance(peer, str) and peer)


def _create(
    path: Path, identity: Identity, device_key: bytes, mesh_key: bytes, peers: Sequence[str],
    passphrase: str | None,
) -> DataDir:
    path.mkdir(parents=True, exist_ok=True)
    if any(path.iterdir()):
        raise DataDirError(
            f"{path} is not empty: use another --data-dir, or `meshd run` to use it"
        )
    _write_secret(path / DEVICE_KEY_FILE, device_key)
    _write_secret(path / MESH_KEY_FILE, mesh_key)
    _write_secret(path / API_TOKEN_FILE, (secrets.token_urlsafe(API_TOKEN_BYTES) + "\n").encode())
    keys.create_key(path, passphrase)
    config: dict[str, Any] = {"version": CONFIG_VERSION, **asdict(identity)}
    if peers:
        config["peers"] = list(peers)
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
    keyring = read_keyring(path) or {0: mesh_key}
    newest = max(keyring)
    return DataDir(
        path=path, identity=identity,
        device_key=Ed25519PrivateKey.from_private_bytes(raw_key),
        mesh_key=keyring[newest], api_token=token, mesh_epoch=newest,
        mesh_keys=tuple(sorted(keyring.items(), reverse=True)),
    )


def read_keyring(path: Path) -> dict[int, bytes]:
    """The mesh keys by epoch in `path`'s mesh-keys.json ({} when there is none)."""
    keyring_path = path / KEYRING_FILE
    if not keyring_path.exists():
        return {}
    try:
        record: Any = json.loads(_read_secret(keyring_path))
        if not isinstance(record, dict) or record.get("version") != KEYRING_VERSION:
            raise ValueError(f"version {KEYRING_VERSION} expected")
        keys = {int(epoch): bytes.fromhex(key) for epoch, key in record["keys"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataDirError(f"{keyring_path} is damaged ({exc})") from None
    if not keys or any(e < 0 or len(k) != MESH_KEY_BYTES for e, k in keys.items()):
        raise DataDirError(f"{keyring_path} is damaged (a key of the wrong length)")
    return keys


def write_keyring(path: Path, keys: dict[int, bytes]) -> None:
    """Save every mesh key by epoch (0600) and make the newest one mesh.key, each atomically."""
    if not keys or any(len(key) != MESH_KEY_BYTES for key in keys.values()):
        raise DataDirError("every mesh key must be 32 bytes")
    record = {"version": KEYRING_VERSION,
              "keys": {str(epoch): key.hex() for epoch, key in sorted(keys.items())}}
    _replace_secret(path / KEYRING_FILE, (json.dumps(record) + "\n").encode())
    _replace_secret(path / MESH_KEY_FILE, keys[max(keys)])


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


def _clean_name(value: str, what: str) -> str:
    clean = value.strip()
    if not clean or len(clean) > MAX_NAME_CHARS:
        raise DataDirError(f"the {what} must be 1–{MAX_NAME_CHARS} characters")
    return clean

