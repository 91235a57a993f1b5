"""Discovery benchmark: how long until two fresh devices on a LAN find each other over mDNS.

Each round builds a new rig (tests/netns.py): two namespaces on a bridge with only link-local
IPv4 addresses, then starts one discovery process in each at the same moment and records, per
direction, the time from spawning the process (interpreter start and imports included) and from
the call to MeshDiscovery.start() to its first peer report. Prints median / p90 / max.

To add a scenario (e.g. "first synced change" once meshd runs in the rig): write a function
`(rig, round_index) -> dict[str, float]` of seconds and register it in SCENARIOS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from netns import NetnsRig, Process, remove_stale_namespaces, skip_reason  # noqa: E402

NODE = str(ROOT / "tests" / "discovery" / "mdns_node.py")
PEER_TIMEOUT_S = 30.0


def _first(process: Process, event: str) -> dict[str, float]:
    line = process.find_line(lambda text: f'"event": "{event}"' in text, timeout_s=PEER_TIMEOUT_S)
    data: dict[str, float] = json.loads(line)
    return data


def first_peer(rig: NetnsRig, index: int) -> dict[str, float]:
    """Seconds from process spawn / from MeshDiscovery.start() to the first peer, both ways."""
    hosts = [rig.add_host(name, ipv4=f"169.254.77.{i}/16", ipv6=False) for i, name in
             enumerate(("a", "b"), 2)]  # fmt: skip
    spawned_at = time.monotonic()  # CLOCK_MONOTONIC is shared by every namespace
    nodes = [
        host.spawn(sys.executable, NODE, "--id", f"bench-{host.name}{index}", "--mesh",
                   f"bench-{index}", "--lifetime-s", str(PEER_TIMEOUT_S))
        for host in hosts
    ]  # fmt: skip
    figures: dict[str, float] = {}
    for node, host in zip(nodes, hosts, strict=True):
        started = _first(node, "started")
        peer = _first(node, "peer")
        figures[f"spawn_to_peer_s[{host.name}]"] = peer["t"] - spawned_at
        figures[f"discovery_start_to_peer_s[{host.name}]"] = peer["t"] - started["began"]
    for node in nodes:
        node.stop()
    return figures


SCENARIOS: dict[str, Callable[[NetnsRig, int], dict[str, float]]] = {"first-peer": first_peer}


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="first-peer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if (reason := skip_reason()) is not None:
        print(f"discovery bench: {reason}", file=sys.stderr)
        return 2
    remove_stale_namespaces()
    samples: dict[str, list[float]] = {}
    for index in range(args.rounds):
        with NetnsRig() as rig:
            for key, value in SCENARIOS[args.scenario](rig, index).items():
                samples.setdefault(key.split("[")[0], []).append(value)
    if args.json:
        print(json.dumps({"scenario": args.scenario, "rounds": args.rounds, "samples": samples}))
        return 0
    print(f"discovery bench, {args.scenario}, {args.rounds} rounds x 2 directions:")
    for key, values in samples.items():
        print(f"  {key:28} {_summary(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
