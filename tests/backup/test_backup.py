"""A backup taken while the node writes restores to a device whose every document and projection
matches; a wrong passphrase, a changed byte or a cut file restores nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import MESHD
from sync_procs import MeshdProcess, make_mesh, seed_charts

from meshd import identity
from meshd.backup import BackupError, backup, last_backup, restore
from meshd.sealed_stream import SealedStreamError
from meshd.store.sqlcipher import SqlCipherStore

pytestmark = pytest.mark.slow
SECRET = "correct horse battery staple"
PATIENT = {"given_name": "Amina", "family_name": "Bello", "sex": "female",
           "birth_date": "1990-02-03"}


async def _contents(path: Path) -> dict[str, Any]:
    data = identity.load_data_dir(path)
    store = SqlCipherStore(data.store_path, identity.load_store_key(data))
    await store.start()
    try:
        return {
            "heads": await store.heads(),
            "search": await store.search_patients("amina", limit=1000),
            "problems": await store.integrity_check(),
        }
    finally:
        await store.stop()


def test_a_backup_taken_while_writing_restores_every_document_and_projection(
    tmp_path: Path,
) -> None:
    (data,) = make_mesh(tmp_path, 1)
    seed_charts(data, 300)
    node = MeshdProcess(data).start([])
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        while not stop.is_set() and len(written) < 200:
            status, body = node.call("POST", "/api/v1/patients", PATIENT)
            assert status == 201, body
            written.append(body["id"])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # bounded by the writer's own 200
            stop.wait(0.05)
        summary = backup(data.path, tmp_path / "clinic.backup", SECRET)
    finally:
        stop.set()
        thread.join(timeout=60)
        node.stop()
    assert last_backup(data.path) is not None and summary["bytes"] > 0
    restored = tmp_path / "replacement"
    restore(tmp_path / "clinic.backup", restored, SECRET)
    got = asyncio.run(_contents(restored))
    assert got["problems"] == []
    assert len(got["heads"]) >= 300 + 20
    original = asyncio.run(_contents(data.path))
    # Everything in the restored copy is exactly as it was in the original at that moment.
    assert all(original["heads"][d] == h for d, h in got["heads"].items())
    assert {r["id"] for r in got["search"]} <= {r["id"] for r in original["search"]}
    assert identity.read_identity(restored) == data.identity


def test_a_wrong_passphrase_a_changed_byte_or_a_cut_file_restores_nothing(
    tmp_path: Path,
) -> None:
    (data,) = make_mesh(tmp_path, 1)
    seed_charts(data, 20)
    good = tmp_path / "clinic.backup"
    backup(data.path, good, SECRET)
    raw = good.read_bytes()
    changed = bytearray(raw)
    changed[len(raw) // 2] ^= 1
    cases = {
        "wrong": (raw, "not the passphrase", "wrong passphrase"),
        "changed": (bytes(changed), SECRET, "damaged"),
        "cut": (raw[: len(raw) - 100], SECRET, "cut short"),
        "empty": (b"", SECRET, "not a clinicmesh"),
    }
    for name, (content, passphrase, message) in cases.items():
        bad = tmp_path / f"{name}.backup"
        bad.write_bytes(content)
        target = tmp_path / f"restored-{name}"
        with pytest.raises(SealedStreamError, match=message):
            restore(bad, target, passphrase)
        assert not target.exists()
        assert [p for p in tmp_path.iterdir() if "restore" in p.name] == []


def test_restore_refuses_a_data_dir_in_use(tmp_path: Path) -> None:
    (data,) = make_mesh(tmp_path, 1)
    backup(data.path, tmp_path / "b", SECRET)
    with pytest.raises(BackupError, match="not empty"):
        restore(tmp_path / "b", data.path, SECRET)


def test_the_cli_backs_up_restores_and_status_shows_the_backups_age(tmp_path: Path) -> None:
    (data,) = make_mesh(tmp_path, 1)
    seed_charts(data, 5)
    secret = tmp_path / "backup-passphrase"
    secret.write_text(SECRET + "\n")
    out = tmp_path / "usb" / "clinic.backup"
    out.parent.mkdir()
    meshd = [str(MESHD)]
    subprocess.run([*meshd, "backup", str(out), "--data-dir", str(data.path),
                    "--backup-passphrase-file", str(secret)], check=True, timeout=60)
    status = json.loads(subprocess.run(
        [*meshd, "status", "--data-dir", str(data.path), "--json"], check=True, timeout=60,
        capture_output=True, text=True).stdout)
    assert status["last_backup"]["file"] == str(out) and status["last_backup"]["age_s"] < 60
    restored = tmp_path / "new-laptop"
    subprocess.run([*meshd, "restore", str(out), "--data-dir", str(restored),
                    "--backup-passphrase-file", str(secret)], check=True, timeout=60)
    again = json.loads(subprocess.run(
        [*meshd, "status", "--data-dir", str(restored), "--json", "--check"], check=True,
        timeout=60, capture_output=True, text=True).stdout)
    assert again["device"]["id"] == data.identity.device_id
    assert again["last_backup"] is None
    wrong = tmp_path / "wrong"
    wrong.write_text("guess\n")
    failed = subprocess.run([*meshd, "restore", str(out), "--data-dir", str(tmp_path / "x"),
                             "--backup-passphrase-file", str(wrong)], timeout=60,
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "wrong passphrase" in failed.stderr


def test_a_backup_keeps_the_attachments_and_restores_them(tmp_path: Path) -> None:
    (data,) = make_mesh(tmp_path, 1)
    seed_charts(data, 3)
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4000  # about 1 MB: four blob chunks
    sha256 = hashlib.sha256(photo).hexdigest()

    async def put() -> None:
        async with SqlCipherStore(data.store_path, identity.load_store_key(data),
                                  create=False) as store:
            await store.put_blob(sha256, photo, "image/png")

    async def read(path: Path) -> tuple[bytes, str] | None:
        restored = identity.load_data_dir(path)
        async with SqlCipherStore(restored.store_path, identity.load_store_key(restored),
                                  create=False) as store:
            return await store.read_blob(sha256)

    asyncio.run(put())
    backup(data.path, tmp_path / "clinic.backup", SECRET)
    restore(tmp_path / "clinic.backup", tmp_path / "replacement", SECRET)
    assert asyncio.run(read(tmp_path / "replacement")) == (photo, "image/png")
