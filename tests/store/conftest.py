"""Fixtures of the store tests: both stores behind one fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from store_helpers import TEST_KEY

from meshd.store.memory import MemoryStore
from meshd.store.sqlcipher import SqlCipherStore


@pytest_asyncio.fixture(params=["memory", "sqlcipher"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """Each test runs once against the in-memory fake and once against SQLCipher."""
    if request.param == "memory":
        async with MemoryStore() as memory:
            yield memory
    else:
        async with SqlCipherStore(tmp_path / "store.db", TEST_KEY) as real:
            yield real
