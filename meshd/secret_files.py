"""Secret files of a data dir: created 0600 and durably, replaced atomically, refused when
other users can read them. The data dir's layout is `meshd.identity`'s."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crdt_model.errors import ClinicMeshError

SECRET_MODE = 0o600


class DataDirError(ClinicMeshError):
    """The data dir is missing, incomplete or damaged; the message says what to do."""

    code = "data_dir"


def replace_secret(secret_path: Path, content: bytes) -> None:
    """Replace a secret file atomically (a 0600 temporary file, then rename)."""
    tmp = secret_path.with_name(f".{secret_path.name}.tmp")
    tmp.unlink(missing_ok=True)
    write_secret(tmp, content)
    os.replace(tmp, secret_path)


def read_secret(secret_path: Path) -> bytes:
    """A secret file's bytes; DataDirError when missing or readable by other users."""
    try:
        mode = secret_path.stat().st_mode
        data = secret_path.read_bytes()
    except FileNotFoundError:
        raise DataDirError(f"{secret_path} is missing: the data dir is incomplete") from None
    except OSError as exc:
        raise DataDirError(f"{secret_path} is unreadable ({exc})") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise DataDirError(
            f"{secret_path} is readable by other users: run `chmod 600 {secret_path}`"
        )
    return data


def write_secret(secret_path: Path, content: bytes) -> None:
    """Create a new secret file (mode 0600), durably."""
    write_file(secret_path, content, SECRET_MODE)


def write_file(file_path: Path, content: bytes, mode: int) -> None:
    """Create a new file with `mode` and `content`, fsynced; fails if it exists."""
    fd = os.open(file_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
