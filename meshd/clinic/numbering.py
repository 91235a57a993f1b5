"""Minting short patient numbers on this device (the format: `crdt_model.patient_number`).

The counter of this device's code is read back once from the numbers of the charts stored
here (every chart this device registered is stored here), then kept in memory and taken one
registration at a time, so two registrations at once never get the same number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from crdt_model.patient_number import parse, patient_number


class NumberSeries:
    """The next numbers of this device, per device code."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._last: dict[str, int] = {}

    async def take(self, code: str, stored: Callable[[str], Awaitable[list[str]]]) -> str:
        """The next number under `code`; `stored(prefix)` lists the numbers stored so far."""
        async with self._lock:
            if code not in self._last:
                counters = [parsed[1] for parsed in map(parse, await stored(f"{code}-"))
                            if parsed is not None and parsed[0] == code]
                self._last[code] = max(counters, default=0)
            self._last[code] += 1
            return patient_number(code, self._last[code])
