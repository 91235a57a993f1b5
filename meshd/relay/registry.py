"""The relay's own records in its data dir: its identity, the clinics it serves (credentials,
revocations, the mesh each is bound to, last contact), the charts clinics share, and the audit
of cross-clinic access.

One small SQLite file (`relay.db`, stdlib sqlite3) shared by the running relay and the CLI verbs
(`add-clinic`, `revoke-clinic`, `status`); each call is one short transaction. The running
relay calls it through `asyncio.to_thread`. Clinical documents never live here: each clinic has
its own encrypted store (meshd.relay.space). With `--db postgresql://…` the same tables live in
PostgreSQL (meshd.relay.pg_registry), shared by every relay process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crdt_model.errors import ConflictError, NotFound, ValidationError
from meshd.relay.credential import new_secret
from meshd.sync.crypto import public_bytes

DB_FILE = "relay.db"
KEY_FILE = "relay.key"
INFO_FILE = "relay.json"
BUSY_TIMEOUT_S = 10.0
MAX_NAME_CHARS = 100
SCHEMA = """
CREATE TABLE IF NOT EXISTS clinics (
  id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, secret TEXT NOT NULL, created_ms INTEGER,
  revoked_ms INTEGER, mesh_id TEXT, last_contact_ms INTEGER, charts INTEGER DEFAULT 0,
  errors INTEGER DEFAULT 0, last_error TEXT, devices TEXT DEFAULT '[]');
CREATE TABLE IF NOT EXISTS shared (patient_id TEXT, clinic_id TEXT, since_ms INTEGER,
  PRIMARY KEY (patient_id, clinic_id));
CREATE TABLE IF NOT EXISTS audit (at_ms INTEGER, clinic_id TEXT, action TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS services (id TEXT PRIMARY KEY, name TEXT NOT NULL, clinic_id TEXT
  NOT NULL, secret TEXT NOT NULL, created_ms INTEGER, revoked_ms INTEGER, UNIQUE (name, clinic_id));
CREATE TABLE IF NOT EXISTS downstreams (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL,
  secret TEXT NOT NULL, created_ms INTEGER, revoked_ms INTEGER, relay_key TEXT);
CREATE TABLE IF NOT EXISTS tier_clinics (clinic_id TEXT PRIMARY KEY, downstream_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upstream_links (clinic_id TEXT PRIMARY KEY, state TEXT,
  last_contact_ms INTEGER, backlog INTEGER);
"""


@dataclass(frozen=True, slots=True)
class ClinicRecord:
    """A clinic the relay serves."""

    id: str
    name: str
    secret: str
    revoked_ms: int | None
    mesh_id: str | None
    last_contact_ms: int | None
    charts: int
    errors: int
    last_error: str | None
    devices: str = "[]"

    def as_status(self) -> dict[str, Any]:
        """The clinic as `meshd relay status --json` lists it (no secret)."""
        return {"name": self.name, "id": self.id, "revoked": self.revoked_ms is not None,
                "mesh_id": self.mesh_id, "last_contact_ms": self.last_contact_ms,
                "charts": self.charts, "errors": self.errors, "last_error": self.last_error,
                "devices": json.loads(self.devices or "[]")}


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """An ancillary service (a district lab, a referral hospital) and the clinic it writes to."""

    id: str
    name: str
    clinic_id: str
    secret: str
    revoked_ms: int | None


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)


class Registry:
    """The relay's records in `DIR/relay.db`."""

    _unique: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    _newest_first = "rowid DESC"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self._create()

    def _create(self) -> None:
        with self._db() as db:
            db.executescript(SCHEMA)
        os.chmod(self.data_dir / DB_FILE, 0o600)  # it holds every clinic's secret

    @contextmanager
    def _db(self) -> Iterator[Any]:
        """A connection in one transaction (DB-API, `?` placeholders)."""
        db = sqlite3.connect(self.data_dir / DB_FILE, timeout=BUSY_TIMEOUT_S)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _seal(self, text: str, context: str) -> str:
        """A secret or an audit detail as stored (as is in the 0600 file)."""
        return text

    def _unseal(self, text: str, context: str) -> str:
        return text

    def add_clinic(self, name: str) -> ClinicRecord:
        """Register a clinic with a fresh secret; ConflictError if the name is taken."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise ValidationError("a clinic name is 1 to 100 characters", field="name")
        clinic_id = os.urandom(8).hex()
        try:
            with self._db() as db:
                db.execute("INSERT INTO clinics (id, name, secret, created_ms) VALUES (?,?,?,?)",
                           (clinic_id, name, self._seal(new_secret(), "clinic " + clinic_id),
                            now_ms()))
        except self._unique as exc:
            raise ConflictError(f"the relay already serves a clinic named {name!r}",
                                field="name") from exc
        found = self.clinic(clinic_id)
        assert found is not None
        return found

    def revoke(self, name: str) -> ClinicRecord:
        """Revoke the credential of the clinic named `name`: it gets nothing from now on."""
        with self._db() as db:
            db.execute("UPDATE clinics SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL",
                       (now_ms(), name))
        found = [c for c in self.clinics() if c.name == name]
        if not found:
            raise NotFound(f"the relay serves no clinic named {name!r}", field="name")
        return found[0]

    def clinics(self) -> list[ClinicRecord]:
        """Every clinic, by name."""
        with self._db() as db:
            rows = db.execute("SELECT id, name, secret, revoked_ms, mesh_id, last_contact_ms,"
                              " charts, errors, last_error, devices FROM clinics"
                              " ORDER BY name").fetchall()
        return [ClinicRecord(r[0], r[1], self._unseal(r[2], "clinic " + r[0]), *r[3:])
                for r in rows]

    def clinic(self, clinic_id: str) -> ClinicRecord | None:
        """The clinic with this id, or None."""
        return next((c for c in self.clinics() if c.id == clinic_id), None)

    def bind_mesh(self, clinic_id: str, mesh_id: str) -> bool:
        """Bind the clinic to the mesh its first device named (once); whether `mesh_id` is it."""
        with self._db() as db:
            db.execute("UPDATE clinics SET mesh_id = ? WHERE id = ? AND mesh_id IS NULL",
                       (mesh_id, clinic_id))
            row = db.execute("SELECT mesh_id FROM clinics WHERE id = ?", (clinic_id,)).fetchone()
        return row is not None and row[0] == mesh_id

    def record_contact(self, clinic_id: str, charts: int, errors: int,
                       last_error: str | None, contact_ms: int | None,
                       devices: list[dict[str, Any]]) -> None:
        """The clinic's live figures (written by the running relay)."""
        with self._db() as db:
            db.execute("UPDATE clinics SET charts = ?, errors = ?, last_error = ?,"
                       " last_contact_ms = COALESCE(?, last_contact_ms), devices = ?"
                       " WHERE id = ?",
                       (charts, errors, last_error, contact_ms, json.dumps(devices), clinic_id))

    def share(self, patient_id: str, clinic_ids: list[str]) -> None:
        """The chart of `patient_id` is held by each of `clinic_ids` from now on."""
        with self._db() as db:
            for clinic_id in clinic_ids:
                db.execute("INSERT INTO shared VALUES (?,?,?) ON CONFLICT DO NOTHING",
                           (patient_id, clinic_id, now_ms()))

    def shared(self) -> dict[str, set[str]]:
        """patient id -> the clinics holding that chart, for every chart shared by two or more."""
        with self._db() as db:
            rows = db.execute("SELECT patient_id, clinic_id FROM shared").fetchall()
        found: dict[str, set[str]] = {}
        for patient_id, clinic_id in rows:
            found.setdefault(patient_id, set()).add(clinic_id)
        return found

    def add_service(self, name: str, clinic_name: str) -> ServiceRecord:
        """Register an ancillary service (a district lab) writing to one clinic's charts."""
        clinic = next((c for c in self.clinics() if c.name == clinic_name), None)
        if clinic is None:
            raise NotFound(f"the relay serves no clinic named {clinic_name!r}", field="clinic")
        service_id = os.urandom(8).hex()
        try:
            with self._db() as db:
                db.execute("INSERT INTO services (id, name, clinic_id, secret, created_ms)"
                           " VALUES (?,?,?,?,?)",
                           (service_id, name.strip()[:MAX_NAME_CHARS], clinic.id,
                            self._seal(new_secret(), "service " + service_id), now_ms()))
        except self._unique as exc:
            raise ConflictError(f"{name!r} is already a service of {clinic_name}",
                                field="name") from exc
        found = self.service(service_id)
        assert found is not None
        return found

    def revoke_service(self, name: str, clinic_name: str) -> None:
        """Revoke an ancillary service's credential: the relay refuses it from now on."""
        clinic = next((c for c in self.clinics() if c.name == clinic_name), None)
        with self._db() as db:
            done = db.execute("UPDATE services SET revoked_ms = COALESCE(revoked_ms, ?)"
                              " WHERE name = ? AND clinic_id = ?",
                              (now_ms(), name, clinic.id if clinic else "")).rowcount
        if not done:
            raise NotFound(f"no service {name!r} of clinic {clinic_name!r}", field="name")

    def service(self, service_id: str) -> ServiceRecord | None:
        """The ancillary service with this id, or None."""
        with self._db() as db:
            row = db.execute("SELECT id, name, clinic_id, secret, revoked_ms FROM services"
                             " WHERE id = ?", (service_id,)).fetchone()
        if not row:
            return None
        return ServiceRecord(row[0], row[1], row[2], self._unseal(row[3], "service " + row[0]),
                             row[4])

    def audit(self, clinic_id: str, action: str, detail: dict[str, Any]) -> None:
        """One row of the cross-clinic audit."""
        with self._db() as db:
            db.execute("INSERT INTO audit (at_ms, clinic_id, action, detail) VALUES (?,?,?,?)",
                       (now_ms(), clinic_id, action,
                        self._seal(json.dumps(detail, sort_keys=True), "audit")))

    def audit_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest audit rows, newest first."""
        with self._db() as db:
            rows = db.execute("SELECT at_ms, clinic_id, action, detail FROM audit"
                              f" ORDER BY {self._newest_first} LIMIT ?", (limit,)).fetchall()
        return [{"at_ms": a, "clinic_id": c, "action": x,
                 "detail": json.loads(self._unseal(d, "audit"))} for a, c, x, d in rows]


@dataclass(frozen=True, slots=True)
class RelayIdentity:
    """The relay's signing key, device id (its actor on documents) and last published address."""

    key: Ed25519PrivateKey
    device_id: str
    url: str | None
    cert_pem: str | None

    @property
    def public_key(self) -> bytes:
        """The relay's raw Ed25519 public key."""
        return public_bytes(self.key)


def relay_identity(data_dir: Path) -> RelayIdentity:
    """The relay's identity, created on first use."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path, info_path = data_dir / KEY_FILE, data_dir / INFO_FILE
    if not key_path.exists():
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(32))
    key = Ed25519PrivateKey.from_private_bytes(key_path.read_bytes())
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if "device_id" not in info:
        info["device_id"] = os.urandom(8).hex()
        info_path.write_text(json.dumps(info))
    return RelayIdentity(key, str(info["device_id"]), info.get("url"), info.get("cert_pem"))


def publish_address(data_dir: Path, url: str, cert_pem: str) -> None:
    """Record where the running relay listens and its certificate, for `add-clinic`."""
    info_path = data_dir / INFO_FILE
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info.update(url=url, cert_pem=cert_pem)
    tmp = info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, info_path)
