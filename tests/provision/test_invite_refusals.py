"""An invite that is tampered with, expired, truncated or of another version is refused clearly,
and leaves no data dir behind; a good one is a 0600 file that makes a complete data dir."""

from __future__ import annotations

import json
import stat
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from meshd_procs import meshd

from crdt_model.context import Author
from crdt_model.directory import directory_genesis
from crdt_model.errors import ClinicMeshError
from meshd import enrolment, identity
from meshd.invite_file import Invite, InviteError, encode_invite
from meshd.provision import invite_device, join_by_invite

PEER = "127.0.0.1:7701"


@pytest.fixture(scope="module")
def invited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Invite]:
    """An invite file made by a stopped inviter, and what it holds."""
    root = tmp_path_factory.mktemp("invite")
    identity.init_data_dir(root / "inviter", device_name="desk-1", facility_name="Hilltop")
    out = root / "invite.json"
    return out, invite_device(root / "inviter", out, device_name="tablet-2", peers=[PEER])


def _edited(source: Path, target: Path, **changes: object) -> Path:
    record = json.loads(source.read_text())
    record.update(changes)
    target.write_text(json.dumps(record))
    return target


def test_invite_file_is_secret_and_joins_the_inviters_mesh(
    invited: tuple[Path, Invite], tmp_path: Path
) -> None:
    out, invite = invited
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.parent.iterdir()) == ["invite.json", "inviter"]
    joined = join_by_invite(tmp_path / "new", out)
    assert joined.identity.device_id == invite.device_id
    assert joined.identity.mesh_id == invite.mesh_id
    assert joined.identity.facility_name == "Hilltop"
    assert joined.mesh_key == identity.load_data_dir(out.parent / "inviter").mesh_key
    assert identity.configured_peers(joined.path) == (PEER,)
    # Its own key, and the invite's aside until its first handshake spends it.
    assert joined.device_public_key() != invite.device_public_key()
    kept = enrolment.invite_key(joined)
    assert kept is not None
    assert kept.public_key().public_bytes_raw() == invite.device_public_key()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_joining_an_initialised_data_dir_is_refused(
    invited: tuple[Path, Invite], tmp_path: Path
) -> None:
    out, _ = invited
    identity.init_data_dir(tmp_path / "used", device_name="old")
    with pytest.raises(identity.DataDirError, match="not empty"):
        join_by_invite(tmp_path / "used", out)


@pytest.mark.parametrize(("change", "message"), [
    ({"facility_name": "Elsewhere"}, "altered or damaged"),
    ({"mesh_key": "00" * 32}, "altered or damaged"),
    ({"version": 99}, "format version 99"),
    ({"format": "something-else"}, "not a clinicmesh invite"),
    ({"signature": "abc"}, "signature is missing"),
])
def test_a_tampered_invite_is_refused_and_leaves_no_data_dir(
    invited: tuple[Path, Invite], tmp_path: Path, change: dict[str, object], message: str
) -> None:
    bad = _edited(invited[0], tmp_path / "bad.json", **change)
    with pytest.raises(InviteError, match=message):
        join_by_invite(tmp_path / "new", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_an_expired_invite_is_refused(invited: tuple[Path, Invite], tmp_path: Path) -> None:
    out, invite = invited
    with pytest.raises(InviteError, match="expired"):
        join_by_invite(tmp_path / "new", out, now=invite.created_at + timedelta(hours=24))
    assert not (tmp_path / "new").exists()
    join_by_invite(tmp_path / "new", out, now=invite.created_at + timedelta(hours=23))


def test_a_truncated_invite_is_refused_by_the_cli(
    invited: tuple[Path, Invite], tmp_path: Path
) -> None:
    raw = invited[0].read_bytes()
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(raw[: len(raw) // 2])
    result = meshd("init", "--data-dir", str(tmp_path / "new"), "--invite", str(truncated))
    assert result.returncode == 1
    assert "incomplete" in result.stderr and "meshd invite" in result.stderr
    assert not (tmp_path / "new").exists()


def test_invite_refuses_a_bad_peer_address_before_rostering(tmp_path: Path) -> None:
    identity.init_data_dir(tmp_path / "inviter", device_name="desk-1")
    result = meshd("invite", "--data-dir", str(tmp_path / "inviter"), "--out",
                   str(tmp_path / "i.json"), "--peer", "no-port-here")
    assert result.returncode == 1 and "HOST:PORT" in result.stderr
    assert not (tmp_path / "i.json").exists()


def test_init_needs_a_name_or_an_invite(tmp_path: Path) -> None:
    result = meshd("init", "--data-dir", str(tmp_path / "new"))
    assert result.returncode == 1 and "--name" in result.stderr
    assert not (tmp_path / "new").exists()


def test_passphrase_protected_stores_on_both_sides(tmp_path: Path) -> None:
    identity.init_data_dir(tmp_path / "inviter", device_name="desk-1", passphrase="kiboko 42")
    out = tmp_path / "invite.json"
    with pytest.raises(ClinicMeshError):
        invite_device(tmp_path / "inviter", out, peers=[PEER], passphrase="wrong")
    assert not out.exists()
    invite_device(tmp_path / "inviter", out, peers=[PEER], passphrase="kiboko 42")
    joined = join_by_invite(tmp_path / "new", out, passphrase="simba 7")
    assert identity.load_store_key(joined, "simba 7")
    with pytest.raises(ClinicMeshError):
        identity.load_store_key(joined, "kiboko 42")


@pytest.mark.parametrize("kind", ["damaged", "of another mesh"])
def test_a_signed_invite_whose_directory_lacks_its_devices_is_refused(
    invited: tuple[Path, Invite], tmp_path: Path, kind: str
) -> None:
    out, invite = invited
    signer = identity.load_data_dir(out.parent / "inviter").device_key
    directory = b"not automerge" if kind == "damaged" else _other_mesh_directory()
    bad = tmp_path / "bad.json"
    bad.write_bytes(encode_invite(replace(invite, directory=directory), signer))
    with pytest.raises(InviteError, match="directory"):
        join_by_invite(tmp_path / "new", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def _other_mesh_directory() -> bytes:
    """A well-formed directory of some other mesh, listing nobody."""
    author = Author("0" * 8, "system", 0)
    return directory_genesis(str(uuid.uuid4()), author).save()


def test_a_mesh_whose_key_was_rotated_gives_the_new_device_every_epoch(tmp_path: Path) -> None:
    inviter = identity.init_data_dir(tmp_path / "inviter", device_name="desk-1")
    rotated = {0: inviter.mesh_key, 3: bytes(range(32))}
    identity.write_keyring(inviter.path, rotated)
    out = tmp_path / "invite.json"
    invite_device(inviter.path, out, peers=[PEER])
    joined = join_by_invite(tmp_path / "new", out)
    assert joined.mesh_key == rotated[3]
    assert dict(joined.mesh_keys) == rotated
