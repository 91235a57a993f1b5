"""Fixtures: real `meshd run` processes, always stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from node_helpers import RunningNode, start_node


@pytest.fixture
def run_node() -> Iterator[Callable[..., RunningNode]]:
    """Start nodes with `run_node(data_dir, *flags)`; any still running is stopped at the end."""
    started: list[RunningNode] = []

    def start(data_dir: Path, *extra: str) -> RunningNode:
        node = start_node(data_dir, *extra)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.process.poll() is None:
            node.stop()
        if node.process.stdout is not None:
            node.process.stdout.close()
