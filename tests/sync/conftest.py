"""Fixtures for sync tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from sync_helpers import Mesh


@pytest_asyncio.fixture
async def mesh() -> AsyncIterator[Mesh]:
    """A mesh whose engines are all stopped after the test, leaving no task behind."""
    before = asyncio.all_tasks()
    built = Mesh()
    yield built
    await built.stop()
    leftover = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert not leftover, leftover
