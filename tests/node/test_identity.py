"""The data dir: what `init` creates, and the clear errors a damaged one gives."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from meshd.identity import DataDirError, init_data_dir, load_data_dir, load_store_key


def test_init_then_load_gives_the_same_identity_and_private_secrets(tmp_path: Path) -> None:
    made = init_data_dir(tmp_path / "d", device_name="desk-1", facility_name="Hilltop")
    loaded = load_data_dir(tmp_path / "d")
    assert loaded.identity == made.identity
    assert loaded.device_public_key() == made.device_public_key()
    assert len(loaded.mesh_key) == 32 and loaded.api_token == made.api_token
    assert len(load_store_key(loaded)) == 32
    for name in ("device.key", "mesh.key", "api-token", "store.key"):
        assert stat.S_IMODE((tmp_path / "d" / name).stat().st_mode) == 0o600
    other = init_data_dir(tmp_path / "e", device_name="desk-2")
    assert other.identity.mesh_id != made.identity.mesh_id
    assert other.api_token != made.api_token


def test_init_refuses_a_dir_that_is_not_empty_and_bad_names(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DataDirError, match="not empty"):
        init_data_dir(tmp_path, device_name="x")
    with pytest.raises(DataDirError, match="device name"):
        init_data_dir(tmp_path / "new", device_name="   ")


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / "node.json").unlink(), "meshd init"),
    (lambda d: (d / "node.json").write_text("{nope"), "unreadable"),
    (lambda d: (d / "node.json").write_text(json.dumps({"version": 99})), "unknown format"),
    (lambda d: (d / "mesh.key").write_bytes(b"short"), "damaged"),
    (lambda d: (d / "device.key").unlink(), "missing"),
    (lambda d: (d / "api-token").chmod(0o644), "chmod 600"),
])
def test_a_damaged_data_dir_is_refused_with_a_clear_message(tmp_path: Path, damage: object,
                                                            message: str) -> None:
    init_data_dir(tmp_path / "d", device_name="desk")
    damage(tmp_path / "d")  # type: ignore[operator]
    with pytest.raises(DataDirError, match=message):
        load_data_dir(tmp_path / "d")


def test_a_missing_dir_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="meshd init"):
        load_data_dir(tmp_path / "absent")
