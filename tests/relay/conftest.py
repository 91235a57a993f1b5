"""Relay tests reuse the multi-process mesh helpers of tests/sync."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))


@pytest.fixture
def started() -> Iterator[list[Any]]:
    """Processes the test started; all stopped afterwards, the last started first."""
    procs: list[Any] = []
    yield procs
    for proc in reversed(procs):
        proc.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One real PostgreSQL server for the session (tests/relay/pg_procs.py); each test takes
    a fresh database of it with `postgres.new_database()`."""
    from pg_procs import PostgresServer

    server = PostgresServer(durable=False).start()
    try:
        yield server
    finally:
        server.stop()
