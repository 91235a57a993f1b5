"""The mesh directory `directory:<mesh>`: users (PIN hashes, roles), devices (keys), settings.

Starts from a deterministic genesis. PIN hashes are opaque strings computed by the caller (the
model does no cryptography); public keys are hex. Each field is its own key so concurrent
edits to different fields of one user both survive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from crdt_model.adapter import Doc, Tx
from crdt_model.context import Author
from crdt_model.errors import ConflictError, NotFound, ValidationError
from crdt_model.ids import DIRECTORY, SCHEMA_VERSION, check_slug, directory_id
from crdt_model.validate import choice, name, reject_unknown, require_mapping, text

ROLES = ("registration", "nurse", "clinician", "lab", "pharmacy", "admin")
USERS = ("users",)
DEVICES = ("devices",)
MAX_PUBLIC_KEY_HEX = 128
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def directory_genesis(mesh: str, author: Author) -> Doc:
    """The directory of `mesh` as every device starts it, writing next as `author`."""
    doc_id = directory_id(mesh)

    def build(tx: Tx) -> None:
        tx.update((), {
            "schema": SCHEMA_VERSION, "type": DIRECTORY, "id": doc_id, "mesh": mesh,
            "users": {}, "devices": {}, "settings": {},
        })

    return Doc.genesis(doc_id, build, author.actor)


def _root(doc: Doc) -> dict[str, Any]:
    root = doc.to_dict()
    if root.get("type") != DIRECTORY or not isinstance(root.get("users"), dict):
        raise NotFound("this document is not a mesh directory", field="doc")
    return root


def _roles(value: object) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError("roles must be a non-empty list", field="roles")
    return sorted({choice(r, "roles", ROLES) for r in value})


def _pin_hash(value: object) -> str:
    return text(value, "pin_hash", max_chars=512)


def _change(doc: Doc, author: Author, build: Any) -> list[bytes]:
    doc.set_actor(author.actor)
    return doc.change(build)


def _require(root: dict[str, Any], section: str, key: str, field: str) -> dict[str, Any]:
    record = root.get(section, {}).get(key)
    if not isinstance(record, dict):
        raise NotFound(f"no {field.removesuffix('_id')} {key!r} in this mesh", field=field)
    return record


def add_user(doc: Doc, user_id: str, data: object, author: Author) -> list[bytes]:
    """Add a user {name, roles, pin_hash}; ConflictError if the id is taken."""
    check_slug(user_id, "user_id")
    raw = require_mapping(data)
    reject_unknown(raw, ("name", "roles", "pin_hash"))
    body = {
        "name": name(raw.get("name"), "name"), "roles": _roles(raw.get("roles")),
        "pin_hash": _pin_hash(raw.get("pin_hash")), "disabled": False,
        "added_by": author.user_id, "added_at": author.at_ms,
    }
    if user_id in _root(doc)["users"]:
        raise ConflictError(f"user {user_id!r} already exists", field="user_id")
    return _change(doc, author, lambda tx: tx.put(USERS, user_id, body))


def set_user_roles(doc: Doc, user_id: str, roles: Iterable[str], author: Author) -> list[bytes]:
    """Replace a user's roles."""
    clean = _roles(list(roles) if not isinstance(roles, str) else roles)
    _require(_root(doc), "users", check_slug(user_id, "user_id"), "user_id")
    return _change(doc, author, lambda tx: tx.put((*USERS, user_id), "roles", clean))


def set_pin_hash(doc: Doc, user_id: str, pin_hash: str, author: Author) -> list[bytes]:
    """Replace a user's PIN hash (computed by the caller)."""
    clean = _pin_hash(pin_hash)
    _require(_root(doc), "users", check_slug(user_id, "user_id"), "user_id")
    return _change(doc, author, lambda tx: tx.put((*USERS, user_id), "pin_hash", clean))


def set_user_language(doc: Doc, user_id: str, language: str, author: Author) -> list[bytes]:
    """Remember the language (a short tag such as `en` or `sw`) a user reads the UI in."""
    clean = check_slug(language, "language")
    _require(_root(doc), "users", check_slug(user_id, "user_id"), "user_id")
    return _change(doc, author, lambda tx: tx.put((*USERS, user_id), "language", clean))


def set_user_disabled(doc: Doc, user_id: str, disabled: bool, author: Author) -> list[bytes]:
    """Disable a user (they can log in nowhere: every device reads this flag) or enable them."""
    if not isinstance(disabled, bool):
        raise ValidationError("disabled must be true or false", field="disabled")
    _require(_root(doc), "users", check_slug(user_id, "user_id"), "user_id")
    return _change(doc, author, lambda tx: tx.put((*USERS, user_id), "disabled", disabled))


def add_device(doc: Doc, device_id: str, data: object, author: Author) -> list[bytes]:
    """Add a device {name, public_key (hex), invite_expires_at?} to the roster; ConflictError if
    present. With `invite_expires_at` (ms) the key is an invite's, pending until enrolled."""
    check_slug(device_id, "device_id")
    raw = require_mapping(data)
    reject_unknown(raw, ("name", "public_key", "invite_expires_at"))
    key = _hex_key(raw.get("public_key"))
    body: dict[str, Any] = {
        "name": name(raw.get("name"), "name"), "public_key": key,
        "added_by": author.device_id, "added_at": author.at_ms, "revoked_at": None,
    }
    expires = raw.get("invite_expires_at")
    if expires is not None:
        if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
            raise ValidationError("invite_expires_at must be epoch ms", field="invite_expires_at")
        body["invite_expires_at"] = expires
    if device_id in _root(doc)["devices"]:
        raise ConflictError(f"device {device_id!r} is already in the mesh", field="device_id")
    return _change(doc, author, lambda tx: tx.put(DEVICES, device_id, body))


def enrol_device(
    doc: Doc, device_id: str, invite_key: str, own_key: str, author: Author
) -> list[bytes]:
    """An invited device used its invite: its own key replaces the invite's, once and for all.

    Doing it again with the same keys changes nothing; any other key is a ConflictError.
    """
    record = _require(_root(doc), "devices", check_slug(device_id, "device_id"), "device_id")
    invite, own = _hex_key(invite_key), _hex_key(own_key)
    if record.get("invite_key") == invite and record.get("public_key") == own:
        return doc.heads()
    if record.get("public_key") != invite or record.get("invite_used_at") is not None:
        raise ConflictError("this invite was used already", field="device_id")
    stamp = author.at_ms
    return _change(doc, author, lambda tx: tx.update(
        (*DEVICES, device_id), {"public_key": own, "invite_key": invite, "invite_used_at": stamp}
    ))


def _hex_key(key: object) -> str:
    if not isinstance(key, str) or len(key) > MAX_PUBLIC_KEY_HEX or not _HEX.fullmatch(key):
        raise ValidationError("public_key must be lower-case hex", field="public_key")
    return key


def revoke_device(doc: Doc, device_id: str, author: Author) -> list[bytes]:
    """Mark a device revoked at `author.at_ms`; ConflictError if it already is."""
    record = _require(_root(doc), "devices", check_slug(device_id, "device_id"), "device_id")
    if record.get("revoked_at") is not None:
        raise ConflictError("this device is already revoked", field="device_id")
    stamp = author.at_ms
    return _change(doc, author, lambda tx: tx.update(
        (*DEVICES, device_id), {"revoked_at": stamp, "revoked_by": author.device_id}
    ))


def make_admin_device(doc: Doc, device_id: str, author: Author) -> list[bytes]:
    """Let a device make admin changes (crdt_model.authority); only an admin device may."""
    record = _require(_root(doc), "devices", check_slug(device_id, "device_id"), "device_id")
    if record.get("revoked_at") is not None:
        raise ConflictError("a revoked device can't be an admin device", field="device_id")
    return _change(doc, author, lambda tx: tx.put((*DEVICES, device_id), "admin", True))


SIGNING_WINDOW = "before_signing_until"


def open_signing_window(doc: Doc, until_ms: int, author: Author) -> list[bytes]:
    """Until `until_ms`, devices take rostered devices' vouches for changes written before
    signing (meshd.attest); opened once, by the first admin device that finds such history."""
    if isinstance(until_ms, bool) or not isinstance(until_ms, int) or until_ms < 0:
        raise ValidationError("the window ends at epoch ms", field="until_ms")
    if signing_window(doc) is not None:
        return doc.heads()
    return _change(doc, author, lambda tx: tx.put(("settings",), SIGNING_WINDOW, until_ms))


def signing_window(doc: Doc) -> int | None:
    """When the window for changes written before signing closes (epoch ms), None if never
    opened."""
    until = (_root(doc).get("settings") or {}).get(SIGNING_WINDOW)
    return until if isinstance(until, int) and not isinstance(until, bool) else None


def users(doc: Doc) -> dict[str, dict[str, Any]]:
    """user_id -> {name, roles, pin_hash, disabled, …}."""
    return {k: v for k, v in _root(doc)["users"].items() if isinstance(v, dict)}


def devices(doc: Doc) -> dict[str, dict[str, Any]]:
    """device_id -> {name, public_key, added_by, added_at, revoked_at, …}."""
    found = _root(doc).get("devices")
    return {k: v for k, v in (found or {}).items() if isinstance(v, dict)}


# A rotated mesh key is kept in each recipient's device record, under a scalar key naming the
# epoch and the rotating device: concurrent rotations by two devices then never overwrite each
# other (no new container is created, so the concurrent-container trap of
# docs/ARCHITECTURE.md §3 can't bite).
SEALED_KEY_PREFIX = "mesh_key."
MAX_SEALED_KEY_HEX = 512


def store_sealed_keys(
    doc: Doc, epoch: int, sealed: dict[str, str], author: Author
) -> list[bytes]:
    """Give each device in `sealed` (device_id -> hex) the mesh key of `epoch`, sealed to it."""
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValidationError("a key epoch is a whole number from 1", field="epoch")
    root = _root(doc)
    for device_id, blob in sealed.items():
        _require(root, "devices", check_slug(device_id, "device_id"), "device_id")
        if not isinstance(blob, str) or len(blob) > MAX_SEALED_KEY_HEX or not _HEX.fullmatch(blob):
            raise ValidationError("a sealed key must be lower-case hex", field="sealed")
    field = f"{SEALED_KEY_PREFIX}{epoch}.{check_slug(author.device_id, 'device_id')}"

    def build(tx: Tx) -> None:
        for device_id, blob in sealed.items():
            tx.put((*DEVICES, device_id), field, blob)

    return _change(doc, author, build)


def sealed_keys(record: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(epoch, rotating device id, sealed hex) of every mesh key given to one device record."""
    found = []
    for key, value in record.items():
        if not isinstance(key, str) or not key.startswith(SEALED_KEY_PREFIX):
            continue
        epoch, _, rotator = key[len(SEALED_KEY_PREFIX):].partition(".")
        if epoch.isdigit() and rotator and isinstance(value, str):
            found.append((int(epoch), rotator, value))
    return sorted(found)


RELAY_SETTING = "relay_credential"
MAX_RELAY_SETTING_CHARS = 16_384


def set_relay_credential(doc: Doc, credential: str, author: Author) -> list[bytes]:
    """Keep the clinic's relay credential (an opaque JSON text) in the mesh settings, so every
    device of the clinic links to the relay with it; a later write replaces it."""
    if not isinstance(credential, str) or len(credential) > MAX_RELAY_SETTING_CHARS:
        raise ValidationError("a relay credential is a text of at most 16 KiB", field="credential")
    _root(doc)
    return _change(doc, author, lambda tx: tx.put(("settings",), RELAY_SETTING, credential))


def relay_credential(doc: Doc) -> str | None:
    """The relay credential the mesh settings hold, or None."""
    settings = _root(doc).get("settings")
    value = settings.get(RELAY_SETTING) if isinstance(settings, dict) else None
    return value if isinstance(value, str) else None
