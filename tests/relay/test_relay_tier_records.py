"""Relay tiers in-process: the registry's tier tables (a downstream relay, its key bound once,
its clinics' derived ids and secrets, revocation reaching every clinic it linked) and whom a
clinic's space trusts beyond its roster (SpaceTrust)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crdt_model.errors import ConflictError, NotFound, ValidationError
from meshd.relay.registry import Registry
from meshd.relay.tiers import (
    SpaceTrust,
    TierRecords,
    clinic_secret,
    tier_status,
    upstream_clinic_id,
)

OWN, UP, DOWN = b"o" * 32, b"u" * 32, b"d" * 32
ELSEWHERE, NEW = b"x" * 8, b"n" * 8  # device prefixes: of a clinic served otherwise; unknown


def test_a_downstream_relay_its_key_and_its_clinics(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    records = TierRecords(registry)
    north = records.add("District North")
    with pytest.raises(ConflictError):
        records.add("District North")
    with pytest.raises(ValidationError):
        records.add("a/b")
    assert records.get(north.id) == north and north.relay_key is None
    assert records.bind_key(north.id, "aa" * 32)
    assert not records.bind_key(north.id, "bb" * 32), "bound to its first relay key only"
    assert records.bind_key(north.id, "aa" * 32)

    clinic = records.clinic(north, "0123456789abcdef", "Clinic A")
    assert clinic.id == upstream_clinic_id(north.id, "0123456789abcdef") != "0123456789abcdef"
    assert clinic.name == "District North/Clinic A"
    assert clinic.secret == clinic_secret(north.secret, "0123456789abcdef")
    assert records.clinic(north, "0123456789abcdef", "renamed") == clinic, "made once"
    south = records.add("District South")
    other = records.clinic(south, "0123456789abcdef", "Clinic A")
    assert other.id != clinic.id and other.secret != clinic.secret, "downstreams stay apart"

    records.revoke("District North")
    with pytest.raises(NotFound):
        records.revoke("nobody")
    found = {c.id: c for c in registry.clinics()}
    assert found[clinic.id].revoked_ms is not None, "its clinics are revoked with it"
    assert found[other.id].revoked_ms is None
    status = tier_status(registry)
    assert status["upstream"] is None
    assert [(d["name"], d["revoked"], d["clinics"]) for d in status["downstreams"]] == [
        ("District North", True, ["District North/Clinic A"]),
        ("District South", False, ["District South/Clinic A"])]


def test_the_upstream_rows_as_the_running_relay_writes_them(tmp_path: Path) -> None:
    records = TierRecords(Registry(tmp_path))
    rows = [{"clinic_id": "c1", "state": "connected", "last_contact_ms": 5, "backlog": 0},
            {"clinic_id": "c2", "state": "unreachable", "last_contact_ms": None, "backlog": 3}]
    records.record_upstream(rows)
    assert records.upstream_rows() == rows
    records.record_upstream(rows[:1])
    assert records.upstream_rows() == rows[:1]


def test_whom_a_space_trusts_beyond_its_roster() -> None:
    assert SpaceTrust(OWN).keys_for(NEW) == {OWN}
    assert SpaceTrust(OWN).peer_keys() == frozenset()
    upstream: list[bytes | None] = [None]
    below = SpaceTrust(OWN, lambda: upstream[0])
    assert below.keys_for(NEW) == {OWN}
    upstream[0] = UP  # `meshd relay upstream` while the relay runs
    assert below.keys_for(NEW) == {OWN, UP}, "the upstream countersigns other clinics' changes"

    tier = SpaceTrust(OWN, downstream=DOWN, elsewhere=lambda prefix: prefix == ELSEWHERE,
                      downstream_id="north")
    assert tier.peer_keys() == frozenset({DOWN})
    assert tier.keys_for(NEW) == {OWN, DOWN}
    # A district can't write in the name of a device of a clinic it does not serve.
    assert tier.keys_for(ELSEWHERE) == {OWN}


def test_the_status_names_an_unusable_upstream_credential(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    (tmp_path / "upstream.json").write_text("{not json")
    upstream = tier_status(registry)["upstream"]
    assert upstream["url"].startswith("(unusable:") and upstream["state"] == "unreachable"
