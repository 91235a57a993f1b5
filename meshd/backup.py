"""Backups of a device's data dir: one encrypted file a replacement device is restored from.

`backup` copies the store with SQLite's online backup (one consistent snapshot, taken while the
node keeps writing) and every other file of the data dir (identity, keys, API token) into a tar
stream, sealed by `meshd.sealed_stream` under a key derived from the backup passphrase. The
data dir's files go in as they are, so keys wrapped by the data dir's own passphrase stay
wrapped. `restore` unpacks into a temporary dir beside the target, opens the store and checks
its integrity, and only then renames it into place: a wrong passphrase, a changed or missing
byte, or a damaged store leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crdt_model.errors import ClinicMeshError
from meshd import identity
from meshd.sealed_stream import SealedReader, SealedWriter
from meshd.store.schema import connect
from meshd.store.sqlcipher import SqlCipherStore

LAST_BACKUP_FILE = "last-backup.json"
# Files that describe this run only: a restored device starts without them.
NOT_BACKED_UP = frozenset({identity.RUN_FILE, LAST_BACKUP_FILE})
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
BACKUP_PAGES_PER_STEP = 1024


Progress = Callable[[int, int], None]


def no_progress(copied: int, total: int) -> None:
    """The default: nobody is watching."""


class BackupError(ClinicMeshError):
    """A backup could not be written or restored; the message says why and what to do."""

    code = "backup_failed"


def backup(data_dir: Path, out: Path, backup_passphrase: str, passphrase: str | None = None,
           progress: Progress = no_progress) -> dict[str, Any]:
    """Write an encrypted backup of `data_dir` to `out`; a summary of what it holds.

    `progress(copied, total)` hears how many store pages are copied, for long runs.
    """
    data = identity.load_data_dir(data_dir, passphrase)
    key = identity.load_store_key(data, passphrase)
    header = {"device": data.identity.device_id, "device_name": data.identity.device_name,
              "mesh": data.identity.mesh_id, "created_ms": int(time.time() * 1000)}
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as work:
        copy = Path(work) / identity.STORE_FILE
        _copy_store(data.store_path, copy, key, progress)
        partial = Path(work) / "backup.part"
        with partial.open("wb") as raw, SealedWriter(raw, backup_passphrase, header) as sealed:
            with tarfile.open(fileobj=sealed, mode="w|") as tar:
                for path in sorted(data_dir.iterdir()):
                    if _backed_up(path):
                        tar.add(path, arcname=path.name, recursive=False)
                tar.add(copy, arcname=identity.STORE_FILE)
        partial.replace(out)
    summary = {**header, "file": str(out), "bytes": out.stat().st_size}
    (data_dir / LAST_BACKUP_FILE).write_text(json.dumps(summary), encoding="utf-8")
    return summary


def restore(backup_file: Path, data_dir: Path, backup_passphrase: str,
            passphrase: str | None = None) -> dict[str, Any]:
    """Restore a backup into the new data dir `data_dir`; a summary of what it held."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a new data dir")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=data_dir.parent, prefix=f".{data_dir.name}-restore-"))
    try:
        with backup_file.open("rb") as raw:
            reader = SealedReader(raw, backup_passphrase)
            _unpack(reader, staging)
            reader.require_end()
        data = identity.load_data_dir(staging, passphrase)
        problems = asyncio.run(_integrity(data, passphrase))
        if problems:
            raise BackupError(f"the restored store is damaged: {problems[0]}")
        staging.chmod(0o700)
        if data_dir.exists():
            data_dir.rmdir()
        staging.rename(data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**reader.header, "data_dir": str(data_dir)}


@dataclass(frozen=True, slots=True)
class DeviceBackups:
    """Backups of one running device into a folder (a USB stick), for the UI's admin."""

    data_dir: Path
    passphrase: str | None = None

    def write(self, folder: Path, backup_passphrase: str) -> dict[str, Any]:
        """A new backup file in `folder`, named after the device and the time."""
        if not folder.is_dir():
            raise BackupError(f"{folder} is not a folder on this device")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = re.sub(r"[^A-Za-z0-9]+", "-", identity.read_identity(self.data_dir).device_name)
        out = folder / f"clinicmesh-{name.strip('-').lower()}-{stamp}.backup"
        return backup(self.data_dir, out, backup_passphrase, self.passphrase)

    def last(self) -> dict[str, Any] | None:
        """The last backup of this device, or None."""
        return last_backup(self.data_dir)


def last_backup(data_dir: Path) -> dict[str, Any] | None:
    """When this device was last backed up, and to where (None if never)."""
    with contextlib.suppress(OSError, ValueError):
        found: dict[str, Any] = json.loads((data_dir / LAST_BACKUP_FILE).read_text("utf-8"))
        found["age_s"] = round(time.time() - found["created_ms"] / 1000)
        return found
    return None


def _backed_up(path: Path) -> bool:
    name = path.name
    return (path.is_file() and not path.is_symlink() and name not in NOT_BACKED_UP
            and not name.startswith(identity.STORE_FILE))


def _copy_store(source: Path, target: Path, key: bytes, progress: Progress) -> None:
    """A consistent copy of the live store (SQLite's online backup, in steps)."""
    src = connect(source, key, create=False)
    try:
        dst = connect(target, key, create=True)
        try:
            src.backup(dst, pages=BACKUP_PAGES_PER_STEP,
                       progress=lambda _status, left, total: progress(total - left, total))
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()


def _unpack(stream: io.RawIOBase, into: Path) -> None:
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = member.name
            if not member.isfile() or "/" in name or name in ("", ".", ".."):
                raise BackupError(f"the backup holds an unexpected entry {name!r}")
            source = tar.extractfile(member)
            assert source is not None  # a regular file always has contents
            target = into / name
            with target.open("wb") as out:
                shutil.copyfileobj(source, out)
            target.chmod(0o600)


async def _integrity(data: identity.DataDir, passphrase: str | None) -> list[str]:
    store = SqlCipherStore(data.store_path, identity.load_store_key(data, passphrase))
    await store.start()
    try:
        return await store.integrity_check()
    finally:
        await store.stop()
