"""The store key file: random, private, atomic, and wrapped by a passphrase when one is set."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from crdt_model.errors import StoreError
from meshd.store import keys
from meshd.store.sqlcipher import SqlCipherStore


def test_a_new_key_is_random_private_and_loads_back(tmp_path: Path) -> None:
    key = keys.create_key(tmp_path)
    other = keys.create_key(tmp_path / "other")
    assert len(key) == 32 and key != other
    assert keys.load_key(tmp_path) == key
    mode = stat.S_IMODE(keys.key_path(tmp_path).stat().st_mode)
    assert mode == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "store.key"]  # no tmp left
    assert not keys.has_passphrase(tmp_path)


def test_an_existing_key_is_never_replaced(tmp_path: Path) -> None:
    key = keys.create_key(tmp_path)
    with pytest.raises(StoreError, match="already exists"):
        keys.create_key(tmp_path)
    assert keys.load_key(tmp_path) == key


def test_a_passphrase_wraps_the_key(tmp_path: Path) -> None:
    key = keys.create_key(tmp_path, "mango tree at the well")
    assert keys.has_passphrase(tmp_path)
    assert key.hex() not in keys.key_path(tmp_path).read_text()
    assert keys.load_key(tmp_path, "mango tree at the well") == key
    with pytest.raises(StoreError, match="wrong passphrase"):
        keys.load_key(tmp_path, "mango tree at the river")
    with pytest.raises(StoreError, match="give the passphrase"):
        keys.load_key(tmp_path)


def test_changing_the_passphrase_keeps_the_key(tmp_path: Path) -> None:
    key = keys.create_key(tmp_path, "first")
    keys.change_passphrase(tmp_path, "first", "second")
    assert keys.load_key(tmp_path, "second") == key
    with pytest.raises(StoreError, match="wrong passphrase"):
        keys.load_key(tmp_path, "first")
    keys.change_passphrase(tmp_path, "second", None)
    assert keys.load_key(tmp_path) == key
    with pytest.raises(StoreError):
        keys.load_key(tmp_path, "second")


def test_a_missing_or_damaged_key_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="meshd init"):
        keys.load_key(tmp_path)
    keys.key_path(tmp_path).write_text("{not json")
    with pytest.raises(StoreError, match="unreadable"):
        keys.load_key(tmp_path)
    keys.key_path(tmp_path).write_text('{"version": 1, "kind": "raw", "key": "AAAA"}')
    with pytest.raises(StoreError, match="damaged"):
        keys.load_key(tmp_path)


@pytest.mark.asyncio
async def test_a_passphrase_protected_store_opens_only_with_its_passphrase(
    tmp_path: Path,
) -> None:
    key = keys.create_key(tmp_path, "correct horse")
    async with SqlCipherStore(tmp_path / "store.db", key) as store:
        await store.write([])
    with pytest.raises(StoreError, match="wrong passphrase"):
        keys.load_key(tmp_path, "wrong horse")
    async with SqlCipherStore(tmp_path / "store.db", keys.load_key(tmp_path, "correct horse")):
        pass
