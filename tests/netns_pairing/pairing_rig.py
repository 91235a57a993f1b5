"""Real `meshd` devices in network namespaces that find each other and pair over mDNS only.

Shared by tests/netns_pairing and scripts/bench/discovery. Every device listens on the same
ports in its own namespace; its API (on the namespace's 127.0.0.1) is reached through
`ns_api.NamespaceApi`. Processes are spawned through the rig, which kills them at close.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netns import Host, Process, wait_until
from ns_api import NamespaceApi

MESHD = str(Path(sys.executable).with_name("meshd"))
API_PORT = 7700
PEER_PORT = 7701
START_S = 20.0
PAIR_S = 40.0  # finding the inviter over mDNS, the PAKE, and the joiner's start
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
PATIENT = {"given_name": "Zawadi", "family_name": "Kamau", "sex": "female",
           "estimated_age_years": 30}


@dataclass
class Device:
    """One device: its namespace, data dir, `meshd run` process and API."""

    host: Host
    data_dir: Path
    process: Process | None = None
    api: NamespaceApi | None = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        assert self.api is not None
        status, answer = self.api.call(method, path, body)
        assert 200 <= status < 300, (self.host.name, method, path, status, answer)
        return answer

    def attach_api(self) -> None:
        """Reach this device's API (once its data dir exists)."""
        token = (self.data_dir / "api-token").read_text().strip()
        self.api = NamespaceApi(self.host.netns, API_PORT, token)

    def wait_started(self) -> None:
        assert self.api is not None
        wait_until(self.api.answers, timeout_s=START_S, what=f"{self.host.name}'s API")

    def spawn(self) -> None:
        """Start `meshd run` with mDNS and no --peer (without waiting for it)."""
        self.process = self.host.spawn(
            MESHD, "run", "--data-dir", str(self.data_dir), "--api-port", str(API_PORT),
            "--peer-port", str(PEER_PORT), env=ENV,
        )
        if self.api is None:
            self.attach_api()

    def run(self) -> None:
        """Start `meshd run` with mDNS and no --peer, and wait for its API."""
        self.spawn()
        self.wait_started()

    def stop(self) -> None:
        """Stop `meshd run` (SIGTERM, bounded)."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def register(self, given_name: str = "Zawadi") -> str:
        answer = self.call("POST", "/api/v1/patients", {**PATIENT, "given_name": given_name})
        return str(answer["id"])

    def has_patient(self, patient_id: str) -> bool:
        assert self.api is not None
        return bool(self.api.call("GET", f"/api/v1/patients/{patient_id}")[0] == 200)

    def connected(self) -> set[str]:
        peers = self.call("GET", "/api/v1/sync/status")["peers"]
        return {str(p["device_name"]) for p in peers if p["connected"]}

    def close(self) -> None:
        if self.api is not None:
            self.api.close()
            self.api = None


def show_code(inviter: Device) -> tuple[Process, str]:
    """Run `meshd pair` on the inviter; the process and the code it shows."""
    pair = inviter.host.spawn(MESHD, "pair", "--data-dir", str(inviter.data_dir), "--no-qr",
                              env=ENV)
    line = pair.wait_for_line(lambda text: text.startswith("Pairing code: "), timeout_s=START_S)
    return pair, line.removeprefix("Pairing code: ").strip()


def join_by_mdns(inviter: Device, joiner: Device, name: str, *, run: bool,
                 offers: list[str] | None = None) -> dict[str, Any]:
    """Pair `joiner` (a fresh data dir) with `inviter` by code, finding it over mDNS only.

    With `run`, the joiner's node starts right after (`meshd join --run`). With `offers`, the
    joiner first lists the devices showing a code (`meshd join --list`) into that list.
    """
    pair, code = show_code(inviter)
    if offers is not None:
        lister = joiner.host.spawn(MESHD, "join", "--list", env=ENV)
        listed = lister.wait_for_line(lambda text: text.startswith("{"), timeout_s=PAIR_S)
        offers += [device["id"] for device in json.loads(listed)["devices"]]
    args = [MESHD, "join", "--data-dir", str(joiner.data_dir), "--code", code, "--name", name]
    if run:
        args += ["--run", "--api-port", str(API_PORT), "--peer-port", str(PEER_PORT)]
    joiner.process = joiner.host.spawn(*args, env=ENV)
    try:
        line = joiner.process.wait_for_line(lambda text: text.startswith("{"), timeout_s=PAIR_S)
        pair.wait_for_line(lambda text: text.startswith("Paired: "), timeout_s=PAIR_S)
    except (TimeoutError, EOFError) as exc:
        raise AssertionError(f"{name} did not pair: {exc}\ninviter's log:\n{log_of(inviter)}"
                             ) from None
    pair.stop()
    if run:
        joiner.attach_api()
        joiner.wait_started()
    joined: dict[str, Any] = json.loads(line)
    return joined


def log_of(device: Device) -> str:
    """The end of a device's log, without the access lines."""
    if device.process is None:
        return ""
    lines = [line for line in device.process.stderr.splitlines() if "aiohttp.access" not in line]
    return "\n".join(lines[-30:])
