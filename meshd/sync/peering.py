"""Which peers a device keeps sessions with: every one it knows in a small mesh, a bounded few
in a big one (a hospital's hundreds of devices), chosen for diversity and stability.

A mesh is small while the device knows at most `max_sessions` peer addresses: it then dials
them all and accepts every peer that dials it, as before there was a bound. Beyond that it
dials only until it holds `dial_target` sessions (about a third of the bound: the rest is room
for the devices that dial it), preferring peers that failed least, on subnets it has no
session with yet (or chosen in the same round), and that stayed connected longest before; a
dropped session is replaced by the next best. It accepts sessions up to the bound and refuses
more with a Busy message (the dialer tries another). Pinned peers (given on the command line
or by the node's configuration) are always dialed.

Pure: the engine reports what happened and the time, and asks whom to dial now. No I/O, no
clock; randomness comes from the `random.Random` it is given.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

DEFAULT_MAX_SESSIONS = 8


@dataclass(slots=True)
class Candidate:
    """A peer address this device knows, and how dialing it went."""

    address: str
    pinned: bool
    failures: int = 0
    retry_at_s: float = 0.0
    dialing: bool = False
    connected_s: float = 0.0  # time spent in sessions with it: a stable peer is kept


def subnet_of(address: str) -> str:
    """The part of HOST:PORT that names the device's network: an IPv4 /24, an IPv6 /64, or
    the host itself when it is a name."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host.count(".") == 3 and host.replace(".", "").isdigit():
        return host.rsplit(".", 1)[0]
    if ":" in host:
        return ":".join(host.split(":")[:4])
    return host


class PeerChoice:
    """The known peer addresses, and which to dial next (`max_sessions` None: no bound)."""

    def __init__(self, max_sessions: int | None, rng: random.Random, *,
                 retry_min_s: float, retry_max_s: float) -> None:
        self.max_sessions = max_sessions
        self._rng = rng
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._known: dict[str, Candidate] = {}
        self._unpinned = 0

    def __contains__(self, address: object) -> bool:
        return address in self._known

    @property
    def small(self) -> bool:
        """Whether every known peer fits in the bound: dial all, push to all."""
        return self.max_sessions is None or self._unpinned <= self.max_sessions

    @property
    def dial_target(self) -> int:
        """Sessions a device of a big mesh dials up to."""
        return max(2, ((self.max_sessions or 0) + 1) // 3)

    def full(self, sessions: int) -> bool:
        """Whether `sessions` live sessions leave no room for another. A small mesh is never
        full, as before there was a bound (nor is a device only dialed, like a relay)."""
        return not self.small and self.max_sessions is not None and sessions >= self.max_sessions

    def pinned(self, address: str) -> bool:
        """Whether `address` is a pinned peer (always dialed, whatever the bound)."""
        known = self._known.get(address)
        return known is not None and known.pinned

    def add(self, address: str, *, pinned: bool = False) -> bool:
        """Know `address` (pinned: always dialed); whether it was new."""
        known = self._known.get(address)
        if known is not None:
            if pinned and not known.pinned:
                known.pinned, self._unpinned = True, self._unpinned - 1
            return False
        self._known[address] = Candidate(address, pinned)
        self._unpinned += not pinned
        return True

    def to_dial(self, sessions: int, connected: Collection[str], now_s: float) -> list[str]:
        """Addresses to dial now, each marked as being dialed until `ended` is called."""
        small = self.small
        ready = [c for c in self._known.values()
                 if not c.dialing and c.address not in connected and c.retry_at_s <= now_s]
        chosen = [c for c in ready if c.pinned or small]
        if not small:
            # A dial lasts as long as its session: count only those not connected yet.
            dialing = sum(c.dialing and c.address not in connected for c in self._known.values())
            room = self.dial_target - sessions - dialing - len(chosen)
            if self.max_sessions is not None:
                room = min(room, self.max_sessions - sessions - dialing - len(chosen))
            if room > 0:
                chosen += self._best([c for c in ready if not c.pinned], connected, room)
        for candidate in chosen:
            candidate.dialing = True
        return [c.address for c in chosen]

    def _best(self, ready: list[Candidate], connected: Collection[str],
              count: int) -> list[Candidate]:
        """The `count` best to dial: fewest failures, a subnet not connected (or chosen) yet,
        stablest, then at random."""
        used = Counter(subnet_of(a) for a in connected)
        ties = {c.address: self._rng.random() for c in ready}
        left, chosen = list(ready), list[Candidate]()
        while left and len(chosen) < count:
            best = min(left, key=lambda c: (c.failures, used[subnet_of(c.address)],
                                            -c.connected_s, ties[c.address]))
            left.remove(best)
            chosen.append(best)
            used[subnet_of(best.address)] += 1
        return chosen

    def ended(self, address: str, *, ran_s: float | None, now_s: float,
              not_before_s: float = 0.0) -> None:
        """A dial of `address` is over: its session ran `ran_s` seconds, or (None) it failed or
        was refused; the next try waits with exponential backoff and jitter."""
        candidate = self._known[address]
        candidate.dialing = False
        if ran_s is None:
            candidate.failures += 1
        else:
            candidate.failures = 0
            candidate.connected_s += ran_s
        delay = min(self._retry_max_s, self._retry_min_s * 2 ** min(candidate.failures, 16))
        jittered = delay * self._rng.uniform(0.5, 1.5)  # no thundering herd
        candidate.retry_at_s = max(now_s + jittered, not_before_s)

    def next_retry_s(self, now_s: float) -> float | None:
        """Seconds until the soonest candidate may be dialed again, or None if none waits."""
        waiting = [c.retry_at_s for c in self._known.values()
                   if not c.dialing and c.retry_at_s > now_s]
        return min(waiting) - now_s if waiting else None
