"""`meshd devices` and `meshd revoke` on a data dir whose node is not running (the store path)."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from crdt_model import directory
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.ids import directory_id
from meshd.cli import app
from meshd.identity import KEYRING_FILE, DataDir, init_data_dir, load_data_dir, read_keyring
from meshd.membership.keyring import keys_sealed_to
from meshd.membership.local_store import open_documents
from meshd.membership.roster import ensure_self, fingerprint

AT_MS = 1_763_800_000_000


def _add_devices(data: DataDir, names: list[str]) -> dict[str, Ed25519PrivateKey]:
    """Roster devices made up here (as pairing would); their private keys by name."""
    keys = {name: Ed25519PrivateKey.generate() for name in names}
    author = Author(data.identity.device_id, "admin", AT_MS)

    def add(doc: Doc) -> None:
        ensure_self(doc, data, author)  # the founder rosters itself first, as pairing does
        for name, key in keys.items():
            public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
            directory.add_device(doc, str(uuid.uuid4()), {"name": name, "public_key": public},
                                 author)

    async def write() -> None:
        async with open_documents(data, None) as documents:
            await documents.update(directory_id(data.identity.mesh_id), add)

    asyncio.run(write())
    return keys


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_devices_lists_the_roster_and_revoke_rotates_the_key_on_the_store(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path / "a", device_name="reception")
    keys = _add_devices(data, ["triage", "lost-tablet"])
    where = ("--data-dir", str(data.path))

    code, out = _cli("revoke", *where, "lost-tablet")
    assert code == 0, out
    assert json.loads(out)["epoch"] == 1 and json.loads(out)["sealed_to"] == 2
    assert sorted(read_keyring(data.path)) == [0, 1]
    assert stat.S_IMODE((data.path / KEYRING_FILE).stat().st_mode) == 0o600
    reloaded = load_data_dir(data.path)
    assert reloaded.mesh_epoch == 1 and reloaded.mesh_key == read_keyring(data.path)[1]

    code, out = _cli("devices", *where, "--json")
    assert code == 0, out
    roster = json.loads(out)
    rows = {row["name"]: row for row in roster["devices"]}
    assert roster["key_epoch"] == 1
    assert rows["lost-tablet"]["revoked"] and rows["lost-tablet"]["revoked_at"]
    assert not rows["triage"]["revoked"] and rows["triage"]["added_by"] == "reception"
    assert rows["reception"]["this_device"]  # the revoking device put itself on the roster
    public = keys["triage"].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    assert rows["triage"]["fingerprint"] == fingerprint(public)

    async def sealed_for(name: str) -> dict[int, bytes]:
        async with open_documents(data, None) as documents:
            devices = await documents.read(directory_id(data.identity.mesh_id),
                                           directory.devices)
        device_id = rows[name]["id"]
        return keys_sealed_to(devices[device_id], device_id, keys[name], data.identity.mesh_id)

    # The remaining device can open its copy of the new key; the revoked one got none.
    assert asyncio.run(sealed_for("triage")) == {1: reloaded.mesh_key}
    assert asyncio.run(sealed_for("lost-tablet")) == {}

    code, out = _cli("devices", *where)
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["NAME", "ID", "FINGERPRINT", "ADDED", "BY", "ADDED", "STATUS"]
    assert any(line.startswith("lost-tablet") and line.endswith("revoked") for line in lines)
    assert lines[-1] == "mesh key epoch: 1"


def test_revoke_says_what_is_wrong_with_the_device_named(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path / "a", device_name="reception")
    _add_devices(data, ["triage"])
    where = ("--data-dir", str(data.path))
    assert _cli("revoke", *where, "pharmacy") == (1, _msg("no device 'pharmacy'"))
    code, out = _cli("revoke", *where, "reception")
    assert code == 1 and "can't revoke itself" in out
    assert _cli("revoke", *where, "triage")[0] == 0
    code, out = _cli("revoke", *where, "triage")
    assert code == 1 and "already revoked" in out


def _msg(start: str) -> str:
    return f"meshd: {start} in this mesh: see `meshd devices`\n"
