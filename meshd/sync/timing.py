"""Every delay of the sync engine in one place, so test fixtures can shorten them all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SyncTiming:
    """Every delay of the engine, shortened by test fixtures."""

    anti_entropy_interval_s: float = 30.0
    handshake_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    misbehaving_ban_s: float = 300.0
    lazy_push_delay_s: float = 0.1  # gossip: an IHave waits this long, batching what follows
