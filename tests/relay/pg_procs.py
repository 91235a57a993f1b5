"""A real PostgreSQL server for relay tests: Debian's binaries, run as a non-root user (the
`postgres` system user when the tests run as root) in a temporary directory, reachable only
over a unix socket there; stopped and removed afterwards."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from meshd_procs import free_port

START_TIMEOUT_S = 30.0
USER = "postgres"


def pg_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries, newest version, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    """`initdb` + `pg_ctl start` in a fresh directory; `url(name)` of a new database."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="meshd-pg-")))
    port: int = field(default_factory=free_port)
    # Tests kill relay processes, never the machine: a commit need not reach the disk there,
    # and the suite's time budget is tight. The bench keeps PostgreSQL's defaults (fsync on).
    durable: bool = True
    _databases: int = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        as_user = ["runuser", "-u", USER, "--"] if os.getuid() == 0 else []
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{args[0]}: {done.stdout}{done.stderr}"
        return done

    def start(self) -> PostgresServer:
        binaries = pg_bin()
        assert binaries is not None, "PostgreSQL is not installed (scripts/setup --test)"
        if os.getuid() == 0:
            shutil.chown(self.root, USER, USER)
        data = self.root / "data"
        self._run(str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        self._run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(self.root / "pg.log"),
                  "-w", "-t", str(int(START_TIMEOUT_S)), "-o",
                  f"-k {self.root} -p {self.port} -c listen_addresses='' "
                  "-c max_connections=200" + ("" if self.durable else " -c fsync=off"),
                  "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@/{database}?host={self.root}&port={self.port}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        self._databases += 1
        name = f"relay{self._databases}_{int(time.time() * 1000) % 100000}"
        self._run(str(pg_bin() / "createdb"), "-h", str(self.root), "-p", str(self.port),
                  "-U", USER, name)  # type: ignore[operator]
        return self.url(name)

    def psql(self, url: str, sql: str) -> str:
        """What `psql -At` prints for `sql`."""
        return self._run(str(pg_bin() / "psql"), url, "-At", "-c", sql).stdout  # type: ignore[operator]

    def stop(self) -> None:
        binaries = pg_bin()
        if binaries is not None and (self.root / "data" / "postmaster.pid").exists():
            self._run(str(binaries / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                      "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
