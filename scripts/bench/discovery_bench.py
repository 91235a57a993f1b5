"""Discovery benchmark: how long until two fresh devices on a LAN find each other over mDNS.

Each round builds a new rig (tests/netns.py): two namespaces on a bridge with only link-local
IPv4 addresses, then starts one discovery process in each at the same moment and records, per
direction, the time from spawning the process (interpreter start and imports included) and from
the call to MeshDiscovery.start() to its first peer report. Prints median / p90 / max.

Scenario "first-synced-change": two real `meshd` devices of one mesh (the second paired by code
found over mDNS, then both stopped) are started at the same moment with mDNS only (no --peer);
the first registers a patient as soon as its API answers; records the time from spawning both
to the patient being readable on the second, and from the registration to it.

To add a scenario: write a function `(rig, round_index) -> dict[str, float]` of seconds and
register it in SCENARIOS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _helpers in ("tests", "tests/netns_mesh", "tests/netns_pairing"):
    sys.path.insert(0, str(ROOT / _helpers))

from netns import (  # noqa: E402
    NetnsRig,
    Process,
    remove_stale_namespaces,
    skip_reason,
    wait_until,
)
from pairing_rig import Device, join_by_mdns  # noqa: E402
from results import Results  # noqa: E402  (beside this script)

from meshd.identity import init_data_dir  # noqa: E402

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


def _holds(device: Device, patient: str) -> bool:
    """Whether `device` shows the patient; False while its API is not listening yet (on a
    loaded machine the second device may still be starting when the first has registered)."""
    try:
        return device.has_patient(patient)
    except OSError:
        return False


def first_synced_change(rig: NetnsRig, index: int) -> dict[str, float]:
    """Seconds from starting two paired devices (mDNS only) to a change synced between them."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    a, b = (Device(rig.add_host(name, ipv4=f"169.254.78.{i}/16", ipv6=False), workdir / name)
            for i, name in enumerate(("a", "b"), 2))  # fmt: skip
    try:
        init_data_dir(a.data_dir, device_name=f"reception-{index}")
        a.run()
        join_by_mdns(a, b, f"triage-{index}", run=False)
        a.stop()
        b.attach_api()
        spawned_at = time.monotonic()
        a.spawn()
        b.spawn()
        a.wait_started()
        registered_at = time.monotonic()
        patient = a.register()
        wait_until(lambda: _holds(b, patient), timeout_s=PEER_TIMEOUT_S,
                   what="the first change on the second device")
        synced_at = time.monotonic()
        return {
            "spawn_to_synced_change_s": synced_at - spawned_at,
            "spawn_to_api_s": registered_at - spawned_at,
            "change_to_synced_s": synced_at - registered_at,
        }
    finally:
        for device in (a, b):
            device.close()
        a.stop()
        b.stop()
        shutil.rmtree(workdir, ignore_errors=True)


SCENARIOS: dict[str, Callable[[NetnsRig, int], dict[str, float]]] = {
    "first-peer": first_peer, "first-synced-change": first_synced_change,
}


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
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
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
    print(f"discovery bench, {args.scenario}, {args.rounds} rounds:")
    results = Results("discovery")
    for key, values in samples.items():
        print(f"  {key:28} {_summary(values)}")
        results.add(f"{args.scenario}: {key}, median of {args.rounds} rounds",
                    statistics.median(values) * 1000, "ms")
        results.add(f"  {key}, max", max(values) * 1000, "ms")
    results.notes.append(json.dumps({"scenario": args.scenario, "samples": samples}))
    results.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
