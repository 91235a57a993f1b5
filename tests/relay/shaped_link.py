"""A clinic's day crossing a shaped relay link inside network namespaces (issue 11, "Slow
links are normal"): shared by tests/relay/test_relay_shaped_link.py (a shorter day) and
scripts/bench/relay_link (the busy day of 200 encounters).

Two namespaces on the rig's bridge (tests/netns.py): `relay` runs `meshd relay` and, in front of
it, tests/relay/cut_proxy.py (counts the bytes, delays each way, cuts and restores the link);
`clinic` runs the clinic's `meshd run`, whose credential names the proxy. Both namespaces'
interfaces are capped by `tc tbf` (this kernel has no netem). The clinic's day is recorded
beforehand on loopback through the API, and each transfer starts from a copy of that data dir,
so every run carries the same documents to an empty relay.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard
from meshd_procs import MESHD, eventually, free_port, meshd
from netns import Host, NetnsRig
from relay_procs import self_signed_pair
from sync_procs import MeshdProcess, make_mesh

from meshd import identity
from meshd.store import keys
from meshd.store.sqlcipher import SqlCipherStore

SUBNET = "10.231.61"
RELAY_IP, CLINIC_IP = f"{SUBNET}.2", f"{SUBNET}.3"
RELAY_PORT, PROXY_PORT = 7443, 7444
PROXY = Path(__file__).with_name("cut_proxy.py")
CUT_DOWN_S = 1.0  # how long each cut lasts
POLL_S = 0.1
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Day:
    """A recorded clinic day: the data dir, its documents, their size raw and compressed."""

    data: identity.DataDir
    docs: int
    raw_bytes: int
    compressed_bytes: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """One day carried to an empty relay."""

    seconds: float  # from the link's first connection until the relay held every document
    up_bytes: int  # clinic → relay, through the proxy (TLS records and all)
    down_bytes: int
    connections: int
    cuts: int


def record_day(root: Path, encounters: int) -> Day:
    """Register and see `encounters` patients on a lone node (loopback, through the API)."""
    (data,) = make_mesh(root, 1)
    node = MeshdProcess(data).start([])
    try:
        for i in range(encounters):
            status, body = node.call("POST", "/api/v1/patients", {
                "given_name": f"Day{i}", "family_name": "Patient", "sex": "female",
                "estimated_age_years": 20 + i % 50, "village": "Kisumu Ndogo"})
            assert status == 201, body
            base = f"/api/v1/patients/{body['id']}"
            status, body = node.call("POST", f"{base}/encounters", {})
            assert status == 201, body
            encounter = body["id"]
            for path, payload in (
                ("triage", {"encounter_id": encounter, "category": "queue",
                            "vitals": {"temperature_c": 37.9, "pulse_bpm": 96}}),
                ("diagnoses", {"encounter_id": encounter, "code": "B54", "label": "Malaria"}),
                ("prescriptions", {"encounter_id": encounter, "drug": "Artemether/lumefantrine",
                                   "dose": 4, "dose_unit": "tablet", "route": "oral",
                                   "frequency": "twice daily", "duration_days": 3,
                                   "quantity": 24}),
            ):
                status, body = node.call("POST", f"{base}/{path}", payload)
                assert status == 201, (path, body)
    finally:
        node.stop()
    saved = asyncio.run(_saved(data.store_path, identity.load_store_key(data)))
    raw = b"".join(saved.values())
    compressed = len(zstandard.ZstdCompressor(level=3).compress(raw))
    return Day(data, len(saved), len(raw), compressed)


async def _saved(path: Path, key: bytes) -> dict[str, bytes]:
    async with SqlCipherStore(path, key, create=False) as store:
        found: dict[str, bytes] = await store.read_many(sorted(await store.heads("")))
        return found


def relay_docs(relay_dir: Path) -> int:
    """How many documents the relay's (only) clinic space holds, read from its store."""
    spaces = list((relay_dir / "clinics").glob("*/store.db")) if (relay_dir / "clinics").exists() \
        else []
    if not spaces:
        return 0

    async def count() -> int:
        async with SqlCipherStore(spaces[0], keys.load_key(spaces[0].parent),
                                  create=False) as store:
            return len(await store.heads(""))

    try:
        return asyncio.run(count())
    except Exception:  # the space is being created: not yet
        return 0


def shaped_rig(rig: NetnsRig, kbit: int) -> tuple[Host, Host]:
    """The relay and clinic namespaces, each sending at most `kbit` kbit/s."""
    relay = rig.add_host("relay", ipv4=f"{RELAY_IP}/24", ipv6=False)
    clinic = rig.add_host("clinic", ipv4=f"{CLINIC_IP}/24", ipv6=False)
    for host in (relay, clinic):
        rig.limit_rate(host, f"{kbit}kbit")
    return relay, clinic


def _stats(path: Path) -> dict[str, int]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {"up": 0, "down": 0, "connections": 0, "cuts": 0}


def transfer(root: Path, relay: Host, clinic: Host, day: Day, cuts: int,
             delay_ms: float, timeout_s: float) -> Transfer:
    """Carry `day` to a new relay over the shaped link, cutting it `cuts` times on the way."""
    root.mkdir(parents=True)
    relay_dir = root / "relay"
    relay_dir.mkdir()
    cert, key = self_signed_pair(root, RELAY_IP)
    relay.spawn(str(MESHD), "relay", "--data-dir", str(relay_dir), "--listen",
                f"{RELAY_IP}:{RELAY_PORT}", "--cert", str(cert), "--key", str(key))
    eventually(lambda: relay.can_connect(RELAY_IP, RELAY_PORT), START_TIMEOUT_S, "the relay")
    control, stats = root / "proxy-control", root / "proxy-stats.json"
    proxy = relay.spawn(sys.executable, str(PROXY), f"{RELAY_IP}:{PROXY_PORT}",
                        f"{RELAY_IP}:{RELAY_PORT}", str(control), str(stats),
                        "--delay-ms", str(delay_ms))
    proxy.wait_for_line(lambda line: line == "listening", timeout_s=START_TIMEOUT_S)
    credential = root / "clinic.relay"
    added = meshd("relay", "add-clinic", "--data-dir", str(relay_dir), "Shaped clinic",
                  "--out", str(credential), "--url", f"https://{RELAY_IP}:{PROXY_PORT}")
    assert added.returncode == 0, added.stderr
    node_dir = root / "clinic"
    shutil.copytree(day.data.path, node_dir)
    linked = meshd("relay-link", "--data-dir", str(node_dir), str(credential))
    assert linked.returncode == 0, linked.stderr
    # The credential is one more change of the directory: the relay gets the day and it.
    expected = day.docs
    node = clinic.spawn(str(MESHD), "run", "--data-dir", str(node_dir), "--api-port",
                        str(free_port()), "--peer-port", str(free_port()), "--no-mdns")
    deadline = time.monotonic() + timeout_s
    first = None
    done = cut = 0
    try:
        while True:
            assert time.monotonic() < deadline, (
                f"the relay holds {done} of {expected} documents after {timeout_s} s; "
                f"proxy {_stats(stats)}; node {node.stderr[-1500:]}")
            now = _stats(stats)
            if first is None and now["connections"]:
                first = time.monotonic()
            done = relay_docs(relay_dir)
            if done >= expected:
                break
            # Cut a live link each time another part of the day has crossed it.
            if cut < cuts and now["connections"] > cut and \
                    now["up"] >= day.compressed_bytes * (cut + 1) / (cuts + 1):
                control.write_text("down")
                time.sleep(CUT_DOWN_S)
                control.write_text("up")
                cut += 1
            time.sleep(POLL_S)
        assert first is not None
        seconds = time.monotonic() - first
        time.sleep(3 * POLL_S)  # the last stats the proxy wrote
        final = _stats(stats)
    finally:
        node.stop()
        proxy.stop()
        for process in relay.processes:
            process.stop()
        relay.processes.clear()
        clinic.processes.clear()
    return Transfer(seconds, final["up"], final["down"], final["connections"], final["cuts"])


def summary(day: Day, result: Transfer, kbit: int) -> dict[str, Any]:
    """The figures of one transfer, for the test's output and the bench's note."""
    line_s = day.compressed_bytes * 8 / (kbit * 1000)
    return {"seconds": round(result.seconds, 1), "up_kib": round(result.up_bytes / 1024, 1),
            "down_kib": round(result.down_bytes / 1024, 1), "connections": result.connections,
            "cuts": result.cuts, "docs": day.docs,
            "raw_kib": round(day.raw_bytes / 1024, 1),
            "compressed_kib": round(day.compressed_bytes / 1024, 1),
            "compressed_over_line_s": round(line_s, 1)}
