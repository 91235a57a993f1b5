"""The UI's backups: the admin writes one into a folder (a USB stick) from the sync page."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crdt_model.errors import ValidationError
from meshd.clinic_ui.base import ServiceBase
from ui.records import BackupInfo


class Backups(ServiceBase):
    """Backups of this device, made through `meshd.backup.DeviceBackups`."""

    async def last_backup(self) -> BackupInfo | None:
        """This device's last backup, or None."""
        found = await asyncio.to_thread(self.backups.last) if self.backups else None
        return None if found is None else _info(found)

    async def back_up(self, folder: str, passphrase: str, by: str) -> BackupInfo:
        """Write a backup into `folder`; audited as the admin's act."""
        if self.backups is None:
            raise ValidationError("backups are made on a device's own node", field="folder")
        done = _info(await asyncio.to_thread(self.backups.write, Path(folder), passphrase))
        await self.clinic.record_backup(done.file, self.writer(by))
        return done


def _info(summary: Mapping[str, Any]) -> BackupInfo:
    return BackupInfo(str(summary["file"]), int(summary.get("bytes", 0)),
                      int(summary["created_ms"]))
