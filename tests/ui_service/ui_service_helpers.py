"""Shared pieces of the UI service tests: a settable clock, a node's identity, a clinic day."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from crdt_model.adapter import actor_for
from meshd.clinic import Clinic, genesis_for, local_day, project
from meshd.clinic_ui.service import NodeClinicService
from meshd.docs import Documents
from meshd.identity import Identity
from meshd.store.base import Store
from meshd.store.memory import MemoryStore
from meshd.store.sqlcipher import SqlCipherStore

# 2026-03-10 09:00 UTC: mid-morning of a clinic day in most time zones.
START_MS = 1_773_133_200_000
TEST_KEY = bytes(range(32))
IDENTITY = Identity(
    device_id="5d1f3c2a-8b7e-4f60-9a1b-2c3d4e5f6a7b", device_name="triage-tablet",
    mesh_id="0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f", facility_id="kibera-hp",
    facility_name="Kibera Health Post",
)
PATIENT = {"given_name": "Baraka", "family_name": "Otieno", "sex": "male",
           "estimated_age_years": 34, "village": "Kisumu Ndogo", "phone": "+254 712 345678"}
PIN_HASH = "scrypt$test$hash"


@dataclass
class Clock:
    """Epoch milliseconds that a test moves by hand."""

    now_ms: int = START_MS

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now_ms += int(seconds * 1000)

    def today(self) -> date:
        """The device's local day now."""
        return date.fromisoformat(local_day(self.now_ms))


def make_store(kind: str, tmp_path: Path) -> Store:
    """A MemoryStore or a SqlCipherStore in `tmp_path` (not started)."""
    if kind == "memory":
        return MemoryStore()
    return SqlCipherStore(tmp_path / "store.db", TEST_KEY)


def make_clinic(
    store: Store, clock: Callable[[], int] | None = None, today: Callable[[], date] | None = None,
) -> Clinic:
    """The clinic core over `store`, as the node builds it (on the real clock by default)."""
    documents = Documents(
        store, actor_for(IDENTITY.device_id, "system"),
        genesis=genesis_for(IDENTITY.device_id), project=project,
        clock=time.time if clock is None else (lambda: clock() / 1000),
    )
    if clock is None:
        return Clinic(documents, store, IDENTITY)
    return Clinic(documents, store, IDENTITY, clock=clock,
                  today=today or (lambda: date.fromisoformat(local_day(clock()))))


def make_service(
    store: Store, clock: Callable[[], int] | None = None, today: Callable[[], date] | None = None,
) -> NodeClinicService:
    """The UI's adapter over the clinic core over `store`."""
    return NodeClinicService(make_clinic(store, clock, today))
