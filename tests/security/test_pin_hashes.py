"""PIN hashes in the directory are keyed from the mesh key: a copy of the directory alone can't
be searched for PINs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sync_procs import MeshdProcess, make_mesh
from test_login_lockout import ADMIN, PIN, _set_up

from crdt_model.adapter import Doc
from crdt_model.ids import directory_id
from meshd.clinic_ui.mount import pin_hash_key
from ui.auth import check_pin, hash_pin, is_keyed

pytestmark = pytest.mark.slow


def test_the_directory_holds_only_keyed_pin_hashes(tmp_path: Path) -> None:
    (data,) = make_mesh(tmp_path, 1)
    node = MeshdProcess(data).start([])
    try:
        asyncio.run(_set_up(f"http://127.0.0.1:{node.api_port}"))
        status, saved = node.call("GET", f"/api/v1/docs/{directory_id(data.identity.mesh_id)}"
                                         "/automerge")
        assert status == 200
    finally:
        node.stop()
    users = Doc.load(saved).get(("users",))
    assert isinstance(users, dict)
    (stored,) = [u["pin_hash"] for u in users.values() if u.get("name") == ADMIN]
    assert is_keyed(stored)
    assert not check_pin(PIN, stored)  # the right PIN, without the mesh key: no match
    assert check_pin(PIN, stored, pin_hash_key(data))


def test_an_unkeyed_hash_from_before_still_logs_in() -> None:
    old = hash_pin("482915")
    assert not is_keyed(old)
    assert check_pin("482915", old, b"k" * 32) and not check_pin("482916", old, b"k" * 32)
