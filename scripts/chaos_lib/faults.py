"""The seeded fault schedule and the thread that plays it against the nodes.

Kinds: `partition` (the node's bridge port down, then up), `rate` (a tbf rate limit on what
the node sends), `lossy` (added delay and loss on every link of the node, through the userspace
proxies of chaos_lib.lossy, since this kernel has no netem), `kill` (SIGKILL, at a moment
when a write to the node is in flight if one comes within 3 s, then a restart on the same
data dir) and `stop` (SIGSTOP, then SIGCONT). A node has at most one fault at a time; the first
faults cycle through every kind so that even a short soak sees each.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from netns import NetnsRig, RigError

from chaos_lib.cluster import Node
from chaos_lib.lossy import LossyLinks

KINDS = ("partition", "rate", "lossy", "kill", "stop")
DURATION_S = {"partition": (4.0, 20.0), "rate": (8.0, 30.0), "lossy": (8.0, 30.0),
              "kill": (2.0, 8.0), "stop": (3.0, 10.0)}
RATES = ("32kbit", "128kbit", "512kbit")
DELAYS_MS = (50, 150, 400)  # one way, on each of the node's links
LOSSES = (0.01, 0.03, 0.1)
GAP_S = (3.0, 9.0)
MID_WRITE_WAIT_S = 3.0
RESTART_S = 30.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: `kind` on node `node` from `at_s` for `for_s` seconds."""

    at_s: float
    kind: str
    node: int
    for_s: float
    rate: str = ""
    delay_ms: int = 0
    loss: float = 0.0

    def detail(self) -> str:
        if self.kind == "rate":
            return f" {self.rate}"
        return f" {self.delay_ms} ms, {self.loss:.0%} loss" if self.kind == "lossy" else ""


def plan_faults(seed: int, seconds: float, nodes: int) -> list[Fault]:
    """Faults starting within the first 90 % of `seconds`, one per node at a time."""
    rng = random.Random(seed * 104729 + 3)
    busy_until = [0.0] * nodes
    faults: list[Fault] = []
    first = list(KINDS)
    rng.shuffle(first)
    at = rng.uniform(*GAP_S)
    while at < seconds * 0.9:
        free = [i for i in range(nodes) if busy_until[i] <= at]
        if free:
            kind = first.pop(0) if first else rng.choice(KINDS)
            node = rng.choice(free)
            low, high = DURATION_S[kind]
            length = min(rng.uniform(low, high), seconds * 0.95 - at)
            lossy = kind == "lossy"
            faults.append(Fault(round(at, 2), kind, node, round(max(length, 1.0), 2),
                                rng.choice(RATES) if kind == "rate" else "",
                                rng.choice(DELAYS_MS) if lossy else 0,
                                rng.choice(LOSSES) if lossy else 0.0))
            busy_until[node] = at + length + 1.0
        at += rng.uniform(*GAP_S)
    return faults


@dataclass
class FaultLog:
    """What the player did, for the summary."""

    started: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    last_heal_s: float = 0.0  # monotonic time the last fault ended (heal_all included)
    last_scheduled_end_s: float = 0.0  # monotonic time the schedule itself ended a fault
    lines: list[str] = field(default_factory=list)


class FaultPlayer:
    """Plays a schedule in a thread; `heal_all()` ends every fault still on."""

    def __init__(self, rig: NetnsRig, nodes: list[Node], faults: list[Fault],
                 links: LossyLinks) -> None:
        self.rig = rig
        self.links = links
        self.nodes = nodes
        self.faults = faults
        self.log = FaultLog()
        self._active: dict[int, Fault] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="faults", daemon=True)
        self._start = 0.0

    def start(self) -> None:
        self._start = time.monotonic()
        self._thread.start()

    def _play(self) -> None:
        ends: list[tuple[float, Fault]] = []
        pending = list(self.faults)
        while (pending or ends) and not self._stop.is_set():
            now = time.monotonic() - self._start
            for end in [e for e in ends if e[0] <= now]:
                ends.remove(end)
                self._guard(self._end, end[1])
            while pending and pending[0].at_s <= now:
                fault = pending.pop(0)
                if self._guard(self._begin, fault):
                    ends.append((now + fault.for_s, fault))
            self._stop.wait(0.1)

    def _guard(self, action: Callable[[Fault], None], fault: Fault) -> bool:
        try:
            action(fault)
        except (RigError, OSError, TimeoutError) as exc:
            self.log.errors.append(f"{fault}: {type(exc).__name__}: {exc}")
            return False
        return True

    def _say(self, text: str) -> None:
        self.log.lines.append(f"{time.monotonic() - self._start:7.1f}s {text}")

    def _begin(self, fault: Fault) -> None:
        node = self.nodes[fault.node]
        with self._lock:
            self._active[fault.node] = fault
        if fault.kind == "partition":
            self.rig.partition(node.host)
        elif fault.kind == "rate":
            self.rig.limit_rate(node.host, fault.rate)
        elif fault.kind == "lossy":
            self.links.impair(node, fault.delay_ms, fault.loss)
        elif fault.kind == "stop":
            node.pause()
        elif fault.kind == "kill":
            deadline = time.monotonic() + MID_WRITE_WAIT_S
            while node.api.in_flight_writes == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            mid_write = node.api.in_flight_writes > 0
            node.kill()
            self.log.started["kill mid-write" if mid_write else "kill idle"] += 1
        self.log.started[fault.kind] += 1
        self._say(f"{fault.kind} {node.name} for {fault.for_s}s{fault.detail()}")

    def _end(self, fault: Fault) -> None:
        node = self.nodes[fault.node]
        try:
            if fault.kind == "partition":
                self.rig.heal(node.host)
            elif fault.kind == "rate":
                self.rig.clear_shaping(node.host)
            elif fault.kind == "lossy":
                self.links.clear(node)
            elif fault.kind == "stop":
                node.resume()
            elif fault.kind == "kill":
                node.start(wait=False)  # heal_all() waits for its API; play goes on meanwhile
        finally:
            with self._lock:
                self._active.pop(fault.node, None)
            self.log.last_heal_s = time.monotonic()
            if not self._stop.is_set():
                self.log.last_scheduled_end_s = self.log.last_heal_s
            self._say(f"end {fault.kind} {node.name}")

    def wait_played(self, timeout_s: float) -> None:
        """Until every scheduled fault has begun and ended (bounded)."""
        self._thread.join(timeout=max(timeout_s, 0.0))

    def heal_all(self) -> None:
        """Stop playing, then end every fault still on (each bounded)."""
        self._stop.set()
        self._thread.join(timeout=RESTART_S + 10)
        with self._lock:
            active = list(self._active.values())
        for fault in active:
            self._guard(self._end, fault)
        for node in self.nodes:  # belt and braces: whatever the schedule did
            node.resume()
            self.rig.heal(node.host)
            self.rig.clear_shaping(node.host)
            self.links.clear(node)
            if not node.up:
                node.start(wait=False)
        for node in self.nodes:
            node.wait_healthy(RESTART_S)
        self.log.last_heal_s = time.monotonic()
