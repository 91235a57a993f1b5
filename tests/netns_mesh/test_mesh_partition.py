"""Four `meshd` processes in their own network namespaces, joined by invite files, linked in a
ring by static peers, converge after one host's link goes down and comes back mid-editing."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import MESHD
from netns import Host, NetnsRig, Process, wait_until
from netns_fixture import fresh_rig
from ns_api import NamespaceApi

from meshd import identity
from meshd.provision import invite_device, join_by_invite

pytestmark = pytest.mark.netns

SUBNET = "10.231.64"
API_PORT = 7700
PEER_PORT = 7701
START_S = 20.0
# A node that dialed neighbours still starting backs off 0.5, 1, 2, 4, 8 s (x0.5-1.5 jitter,
# SyncTiming.reconnect_*): on a loaded machine the ring's links took over 20 s once.
CONNECT_S = 45.0
CONVERGE_S = 30.0
OUTAGE_S = 4.0  # longer than TCP's first retransmissions, shorter than the heartbeat
PROBE_S = 0.5
NAMES = ("a", "b", "c", "d")
# The ring a–b–c–d–a: each node dials the ones listed (the other end accepts).
DIALS = {"b": ["a"], "c": ["b"], "d": ["c", "a"]}
PATIENT = {"given_name": "Zawadi", "family_name": "Kamau", "sex": "female",
           "estimated_age_years": 30}


@dataclass
class MeshNode:
    """One device: its namespace, its `meshd run` process and its API."""

    name: str
    host: Host
    data: identity.DataDir
    api: NamespaceApi
    process: Process | None = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.api.call(method, path, body)
        assert 200 <= status < 300, (self.name, method, path, status, answer)
        return answer

    def register(self, given_name: str) -> str:
        answer = self.call("POST", "/api/v1/patients", {**PATIENT, "given_name": given_name})
        return str(answer["id"])

    def patients(self) -> set[str]:
        found = self.call("GET", f"/api/v1/patients?q={PATIENT['family_name']}")["results"]
        return {row["id"] for row in found}

    def heads(self, patient_id: str) -> list[str]:
        return list(self.call("GET", f"/api/v1/docs/chart:{patient_id}/heads")["heads"])

    def connected(self) -> set[str]:
        peers = self.call("GET", "/api/v1/sync/status")["peers"]
        return {p["device_name"] for p in peers if p["connected"]}


@pytest.fixture
def rig() -> Iterator[NetnsRig]:
    yield from fresh_rig()


@pytest.fixture
def ring(rig: NetnsRig, tmp_path: Path) -> Iterator[dict[str, MeshNode]]:
    """Four devices of one mesh, provisioned by invites from `a`, running in a ring."""
    hosts = {name: rig.add_host(name, ipv4=f"{SUBNET}.{2 + i}/24", ipv6=False)
             for i, name in enumerate(NAMES)}
    first = identity.init_data_dir(tmp_path / "a", device_name="a", facility_name="Island")
    datas = {"a": first}
    for name, dials in DIALS.items():
        invite = tmp_path / f"{name}.invite"
        peers = [f"{hosts[other].ipv4}:{PEER_PORT}" for other in dials]
        invite_device(first.path, invite, device_name=name, peers=peers)
        datas[name] = join_by_invite(tmp_path / name, invite)
    nodes = {name: MeshNode(name, hosts[name], datas[name],
                            NamespaceApi(hosts[name].netns, API_PORT, datas[name].api_token))
             for name in NAMES}
    try:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        _enrol_with_a(nodes, env)
        for name, node in nodes.items():
            if name != "a":
                node.process = _run(node, env)  # no --peer: each dials its invite's peers
        for node in nodes.values():
            wait_until(node.api.answers, timeout_s=START_S, what=f"{node.name}'s API")
        yield nodes
    finally:
        for node in nodes.values():
            node.api.close()


def _run(node: MeshNode, env: dict[str, str], *peers: str) -> Process:
    args = [a for peer in peers for a in ("--peer", peer)]
    return node.host.spawn(
        str(MESHD), "run", "--data-dir", str(node.data.path), "--api-port", str(API_PORT),
        "--peer-port", str(PEER_PORT), "--no-mdns", *args, env=env,
    )


def _enrol_with_a(nodes: dict[str, MeshNode], env: dict[str, str]) -> None:
    """Start `a`, and let each invited device spend its invite with `a`, its inviter (an
    invite is admitted by its inviter alone, at the first handshake; c never dials a later)."""
    a = nodes["a"]
    a.process = _run(a, env)
    wait_until(a.api.answers, timeout_s=START_S, what="a's API")
    enrolled = {"a"}
    for name in DIALS:
        node = nodes[name]
        process = _run(node, env, f"{a.host.ipv4}:{PEER_PORT}")
        enrolled.add(name)
        try:
            wait_until(lambda n=name: n in a.connected(), timeout_s=CONNECT_S,
                       what=f"{name} admitted by a")
            # Stopped, it keeps the roster it holds, and c never dials a again: it must hold
            # every device enrolled so far, or it refuses b (and d) for good.
            wait_until(lambda n=node: enrolled <= _roster(n), timeout_s=CONNECT_S,
                       what=f"{name} holding the roster")
        finally:
            process.stop()


def _roster(node: MeshNode) -> set[str]:
    """The device names the node's directory lists (none while its API is not up yet)."""
    try:
        status, answer = node.api.call("GET", "/api/v1/devices")
    except OSError:
        return set()
    return {d["name"] for d in answer["devices"]} if status == 200 else set()


def test_four_namespaced_nodes_converge_after_a_link_is_down_during_edits(
    rig: NetnsRig, ring: dict[str, MeshNode]
) -> None:
    a, b, c, d = (ring[name] for name in NAMES)
    neighbours = {"a": {"b", "d"}, "b": {"a", "c"}, "c": {"b", "d"}, "d": {"a", "c"}}
    wait_until(lambda: all(ring[n].connected() == want for n, want in neighbours.items()),
               timeout_s=CONNECT_S, what="the ring's four links")
    shared = a.register("Shared")
    wait_until(lambda: all(shared in node.patients() for node in ring.values()),
               timeout_s=CONVERGE_S, what="the first patient on every node")

    rig.partition(d.host)  # d's veth on the bridge goes down: it is cut off from a and c
    outage_ends = time.monotonic() + OUTAGE_S
    on_b: list[str] = []
    on_d: list[str] = []
    while time.monotonic() < outage_ends or len(on_d) < 2:  # clinics keep working meanwhile
        on_b.append(b.register(f"B{len(on_b)}"))
        on_d.append(d.register(f"D{len(on_d)}"))
        b.call("POST", f"/api/v1/patients/{shared}/notes", {"text": f"triage on b {len(on_b)}"})
        d.call("POST", f"/api/v1/patients/{shared}/notes", {"text": f"ward on d {len(on_d)}"})
        wait_until(lambda: on_b[-1] in c.patients() and on_b[-1] in a.patients(),
                   timeout_s=CONVERGE_S, what="b's patients on a and c while d is cut off")
        # Checking the cut also paces the edits (a probe waits PROBE_S for an answer).
        assert not d.host.can_connect(a.host.ipv4 or "", PEER_PORT, timeout_s=PROBE_S)
    assert not set(on_b) & d.patients() and not set(on_d) & a.patients()
    assert d.heads(shared) != b.heads(shared)

    rig.heal(d.host)
    c.register("C-after")  # edits go on as the link comes back
    everyone = {shared, *on_b, *on_d}

    def converged() -> bool:
        sets = [node.patients() for node in ring.values()]
        heads = [node.heads(shared) for node in ring.values()]
        return everyone <= sets[0] and all(s == sets[0] for s in sets) and all(
            h == heads[0] for h in heads)

    wait_until(converged, timeout_s=CONVERGE_S, what="all four nodes to converge")
    chart = str(a.call("GET", f"/api/v1/patients/{shared}"))
    assert f"triage on b {len(on_b)}" in chart and f"ward on d {len(on_d)}" in chart
    assert len(a.patients()) == 1 + len(on_b) + len(on_d) + 1
