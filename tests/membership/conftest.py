"""Fixtures for membership tests: real `meshd run` processes, always stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from membership_procs import Meshd


@pytest.fixture
def nodes() -> Iterator[list[Meshd]]:
    """Processes the test started (append them); every one is stopped at the end."""
    started: list[Meshd] = []
    yield started
    for node in started:
        node.stop()
