"""Relay tiers: a district relay links each clinic it serves to a national (upstream) relay.

On the upstream, `meshd relay add-downstream NAME` registers a downstream relay and writes its
tier credential (the credential file format of meshd.relay.credential; its id names the
downstream). The downstream stores it (`meshd relay upstream FILE`, `DIR/upstream.json`) and
dials, per clinic space, `wss://UP/relay/v1/tier/<downstream>/<clinic>?mesh=…&key=…&name=…`
(meshd.relay.upstream). The upstream keeps each such clinic as a clinic of its own
(meshd.relay.downstream): id and handshake secret are derived from the tier credential and the
downstream's clinic id, so the downstream needs no secret per clinic and no two downstreams can
reach each other's clinics. This module holds what both sides share: the derivations, whom a
space trusts beyond its roster (SpaceTrust), and the registry's tier tables.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crdt_model.errors import ClinicMeshError, ConflictError, NotFound, ValidationError
from meshd.relay.credential import Credential, new_secret, read_file
from meshd.relay.registry import ClinicRecord, Registry, now_ms

TIER_PATH = "/relay/v1/tier/"
UPSTREAM_FILE = "upstream.json"
MAX_NAME_CHARS = 100


def clinic_secret(tier_secret: str, clinic_id: str) -> str:
    """The handshake secret of one downstream clinic on the upstream (hex)."""
    return hmac.new(bytes.fromhex(tier_secret), b"clinicmesh tier clinic v1\0" + clinic_id.encode(),
                    hashlib.sha256).hexdigest()


def upstream_clinic_id(downstream_id: str, clinic_id: str) -> str:
    """The id on the upstream of the downstream's clinic `clinic_id`."""
    return hashlib.sha256(f"tier\0{downstream_id}\0{clinic_id}".encode()).hexdigest()[:16]


class SpaceTrust:
    """Whom a clinic's space trusts beyond the clinic's roster.

    `keys_for(prefix)`: who may sign a change of a device the roster does not list (another
    clinic's, or a relay's own): this relay; its upstream relay (it countersigns what it copied
    between its spaces); the downstream relay that serves this clinic, unless the device
    belongs to a clinic this relay serves outside that downstream (a district can't write in
    the name of a clinic it does not serve). `peer_keys()`: relays a handshake accepts beside
    the clinic's devices (the downstream)."""

    def __init__(self, own: bytes, upstream: Callable[[], bytes | None] = lambda: None,
                 downstream: bytes | None = None,
                 elsewhere: Callable[[bytes], bool] = lambda prefix: False,
                 downstream_id: str | None = None) -> None:
        self.downstream_id = downstream_id  # the downstream relay the clinic came through
        self._own = own
        self._upstream = upstream
        self._downstream = downstream
        self._elsewhere = elsewhere

    def keys_for(self, prefix: bytes) -> set[bytes]:
        """The relays' keys that may sign for the device `prefix` names (not on the roster)."""
        keys = {self._own}
        upstream = self._upstream()
        if upstream is not None:
            keys.add(upstream)
        if self._downstream is not None and not self._elsewhere(prefix):
            keys.add(self._downstream)
        return keys

    def peer_keys(self) -> frozenset[bytes]:
        """Relays that may link to the space beside the clinic's devices."""
        return frozenset() if self._downstream is None else frozenset({self._downstream})


@dataclass(frozen=True, slots=True)
class DownstreamRecord:
    """A relay that links its clinics to this one."""

    id: str
    name: str
    secret: str
    revoked_ms: int | None
    relay_key: str | None  # bound at its first link


class TierRecords:
    """The tier tables of a relay's registry (SQLite or PostgreSQL: the registry's own
    connection, placeholders and sealing)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._db = registry._db  # one more module's tables in the registry's database

    def add(self, name: str) -> DownstreamRecord:
        """Register a downstream relay with a fresh secret; ConflictError if the name is taken."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or "/" in name:
            raise ValidationError("a relay name is 1 to 100 characters, no '/'", field="name")
        found_id = os.urandom(8).hex()
        sealed = self._registry._seal(new_secret(), "downstream " + found_id)
        try:
            with self._db() as db:
                db.execute("INSERT INTO downstreams (id, name, secret, created_ms)"
                           " VALUES (?,?,?,?)", (found_id, name, sealed, now_ms()))
        except self._registry._unique as exc:
            raise ConflictError(f"a relay named {name!r} is already downstream",
                                field="name") from exc
        found = self.get(found_id)
        assert found is not None
        return found

    def all(self) -> list[DownstreamRecord]:
        """Every downstream relay, by name."""
        with self._db() as db:
            rows = db.execute("SELECT id, name, secret, revoked_ms, relay_key FROM downstreams"
                              " ORDER BY name").fetchall()
        unseal = self._registry._unseal
        return [DownstreamRecord(r[0], r[1], unseal(r[2], "downstream " + r[0]), r[3], r[4])
                for r in rows]

    def get(self, downstream_id: str) -> DownstreamRecord | None:
        """The downstream relay with this id, or None."""
        return next((d for d in self.all() if d.id == downstream_id), None)

    def revoke(self, name: str) -> None:
        """Revoke a downstream relay: it and every clinic it linked get nothing from now on."""
        found = next((d for d in self.all() if d.name == name), None)
        if found is None:
            raise NotFound(f"no downstream relay named {name!r}", field="name")
        at = now_ms()
        with self._db() as db:
            db.execute("UPDATE downstreams SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id = ?",
                       (at, found.id))
            db.execute("UPDATE clinics SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id IN"
                       " (SELECT clinic_id FROM tier_clinics WHERE downstream_id = ?)",
                       (at, found.id))

    def bind_key(self, downstream_id: str, relay_key: str) -> bool:
        """Bind the downstream to the relay key of its first link (once); whether it is it."""
        with self._db() as db:
            db.execute("UPDATE downstreams SET relay_key = ? WHERE id = ? AND relay_key IS NULL",
                       (relay_key, downstream_id))
            row = db.execute("SELECT relay_key FROM downstreams WHERE id = ?",
                             (downstream_id,)).fetchone()
        return row is not None and row[0] == relay_key

    def clinic(self, downstream: DownstreamRecord, clinic_id: str, name: str) -> ClinicRecord:
        """The clinic record standing here for the downstream's clinic, made at its first link
        (named "<downstream>/<clinic>")."""
        here = upstream_clinic_id(downstream.id, clinic_id)
        found = self._registry.clinic(here)
        if found is not None:
            return found
        secret = self._registry._seal(clinic_secret(downstream.secret, clinic_id),
                                      "clinic " + here)
        full = f"{downstream.name}/{name.strip() or clinic_id}"[:2 * MAX_NAME_CHARS]
        with self._db() as db:
            db.execute("INSERT INTO clinics (id, name, secret, created_ms) VALUES (?,?,?,?)"
                       " ON CONFLICT DO NOTHING", (here, full, secret, now_ms()))
            db.execute("INSERT INTO tier_clinics (clinic_id, downstream_id) VALUES (?,?)"
                       " ON CONFLICT DO NOTHING", (here, downstream.id))
        found = self._registry.clinic(here)
        if found is None:
            raise ConflictError(f"a clinic named {full!r} exists already", field="name")
        return found

    def downstream_of(self) -> dict[str, str]:
        """clinic id -> the id of the downstream relay it came through."""
        with self._db() as db:
            rows = db.execute("SELECT clinic_id, downstream_id FROM tier_clinics").fetchall()
        return {c: d for c, d in rows}

    def record_upstream(self, rows: list[dict[str, Any]]) -> None:
        """The upstream link of each clinic space, as the running relay sees it."""
        with self._db() as db:
            db.execute("DELETE FROM upstream_links")
            for row in rows:
                db.execute("INSERT INTO upstream_links (clinic_id, state, last_contact_ms,"
                           " backlog) VALUES (?,?,?,?)", (row["clinic_id"], row["state"],
                                                          row["last_contact_ms"], row["backlog"]))

    def upstream_rows(self) -> list[dict[str, Any]]:
        """What `record_upstream` wrote last."""
        with self._db() as db:
            rows = db.execute("SELECT clinic_id, state, last_contact_ms, backlog"
                              " FROM upstream_links ORDER BY clinic_id").fetchall()
        return [{"clinic_id": c, "state": s, "last_contact_ms": t, "backlog": b}
                for c, s, t, b in rows]


def tier_status(registry: Registry) -> dict[str, Any]:
    """`upstream` and `downstreams` of `meshd relay status --json` and the operator's page:
    the upstream link (url, state, last contact, backlog: each clinic's and overall, as the
    running relay last wrote them) and the downstream relays with the clinics they linked."""
    records = TierRecords(registry)
    path = registry.data_dir / UPSTREAM_FILE
    upstream: dict[str, Any] | None = None
    if path.exists():
        try:
            found = read_file(path)
        except (ClinicMeshError, OSError) as exc:
            found = Credential("0" * 16, "?", f"(unusable: {exc})", "", "")
        names = {c.id: c.name for c in registry.clinics()}
        rows = [dict(row, clinic=names.get(row["clinic_id"])) for row in records.upstream_rows()]
        waiting = [r["state"] for r in rows if r["state"] != "connected"]
        contacts = [r["last_contact_ms"] for r in rows if r["last_contact_ms"]]
        upstream = {"url": found.url, "name": found.clinic, "relay_key": found.relay_key,
                    "state": (waiting[0] if waiting else "connected") if rows else "unreachable",
                    "last_contact_ms": max(contacts) if contacts else None,
                    "backlog": sum(r["backlog"] or 0 for r in rows), "clinics": rows}
    through = records.downstream_of()
    clinics = {c.id: c.name for c in registry.clinics()}
    downstreams = [{"name": d.name, "id": d.id, "revoked": d.revoked_ms is not None,
                    "relay_key": d.relay_key,
                    "clinics": sorted(clinics[c] for c, via in through.items()
                                      if via == d.id and c in clinics)}
                   for d in records.all()]
    return {"upstream": upstream, "downstreams": downstreams}
