"""Fixtures every test folder shares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    """Processes the test started (append them, e.g. `MeshdProcess`); all stopped afterwards."""
    started: list[Any] = []
    yield started
    for proc in started:
        proc.stop()
