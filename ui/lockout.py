"""Wrong-PIN lock-out that holds: reserved before the check, per name and per device, durable.

An attempt is counted *before* its PIN is checked (scrypt runs in a thread, so a thousand
concurrent logins would otherwise all be checked before the first failure is counted). Each
name may have MAX_WRONG_PINS attempts in flight or failed, the whole device DEVICE_MAX_WRONG
(so cycling through names does not help); reaching either locks it out, for a time that doubles
with each lock-out. Counters are written to a file (names hashed, times on the wall clock) after
every change, so a restart clears nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_WRONG_PINS = 5
DEVICE_MAX_WRONG = 20
LOCKOUT_S = 300.0
MAX_LOCKOUT_S = 24 * 3600.0
# A device's count of wrong PINs starts again after this long without one (typos add up).
DEVICE_WINDOW_S = 3600.0
DEVICE = "*device*"


@dataclass(slots=True)
class _Count:
    attempts: int = 0  # in flight or failed since the last success or lock
    lockouts: int = 0
    locked_until: float = 0.0
    since: float = 0.0  # when the first of `attempts` was counted


@dataclass(slots=True)
class LockoutBook:
    """Counts PIN attempts per user name and for the whole device."""

    clock: Callable[[], float]
    path: Path | None = None
    lockout_s: float = LOCKOUT_S
    max_wrong_pins: int = MAX_WRONG_PINS
    device_max_wrong: int = DEVICE_MAX_WRONG
    _counts: dict[str, _Count] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.path is not None:
            self._counts = _load(self.path)

    def wait_s(self, name: str) -> float:
        """Seconds before `name` (or this device) may try a PIN again; 0 when it may."""
        now = self.clock()
        return max(0.0, *(self._count(k).locked_until - now for k in (_key(name), DEVICE)))

    def reserve(self, name: str) -> float:
        """Count an attempt before its check: 0 if it may go on, else the seconds to wait."""
        wait = self.wait_s(name)
        if wait > 0:
            return wait
        user, device = self._count(_key(name)), self._count(DEVICE)
        now = self.clock()
        if now - device.since > DEVICE_WINDOW_S:
            device.attempts, device.since = 0, now
        if user.attempts >= self.max_wrong_pins or device.attempts >= self.device_max_wrong:
            return self.lockout_s  # the rest are being checked right now
        user.attempts += 1
        device.attempts += 1
        self._save()
        return 0.0

    def wrong(self, name: str) -> None:
        """The reserved attempt failed: lock the name or the device once over its limit."""
        for key, limit in ((_key(name), self.max_wrong_pins), (DEVICE, self.device_max_wrong)):
            count = self._count(key)
            if count.attempts >= limit:
                count.lockouts += 1
                count.attempts = 0
                backoff = self.lockout_s * 2 ** min(count.lockouts - 1, 16)
                count.locked_until = self.clock() + min(backoff, MAX_LOCKOUT_S)
        self._save()

    def right(self, name: str) -> None:
        """The reserved attempt succeeded: the name starts afresh, the device forgets one."""
        self._counts.pop(_key(name), None)
        device = self._count(DEVICE)
        device.attempts, device.lockouts = max(0, device.attempts - 1), 0
        self._save()

    def _count(self, key: str) -> _Count:
        return self._counts.setdefault(key, _Count())

    def _save(self) -> None:
        if self.path is None:
            return
        data = {k: [c.attempts, c.lockouts, c.locked_until, c.since]
                for k, c in self._counts.items() if c.attempts or c.lockouts}
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)


def _key(name: str) -> str:
    # Names are hashed: the file says how often someone failed, not who the staff are.
    return hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:32]


def _load(path: Path) -> dict[str, _Count]:
    with contextlib.suppress(OSError, ValueError, TypeError):
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): _Count(int(v[0]), int(v[1]), float(v[2]), float(v[3]))
                for k, v in raw.items()}
    return {}  # no file yet, or a damaged one: start counting again
