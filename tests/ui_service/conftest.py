"""Fixtures of the UI service tests: the real service over each store kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from ui_service_helpers import Clock, make_service, make_store

from meshd.clinic_ui.service import NodeClinicService
from meshd.store.base import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture(params=["memory", "sqlcipher"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = make_store(str(request.param), tmp_path)
    await made.start()  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        await made.stop()  # type: ignore[attr-defined]


@pytest.fixture
def service(store: Store, clock: Clock) -> NodeClinicService:
    return make_service(store, clock)
