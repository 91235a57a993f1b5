"""The body of the netns tests' `rig` fixture: skipped where no rig can run, else a fresh one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netns import NetnsRig, remove_stale_namespaces, skip_reason


def fresh_rig() -> Iterator[NetnsRig]:
    """A rig with no namespaces left by an earlier run, closed after; skip if none can run."""
    if (reason := skip_reason()) is not None:
        pytest.skip(reason)
    remove_stale_namespaces()
    with NetnsRig() as made:  # kills every process and removes the namespaces, even on failure
        yield made
