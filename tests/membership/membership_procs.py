"""Real `meshd` processes for membership tests: run, call the API, pair by code."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MESHD = Path(sys.executable).with_name("meshd")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05
PATIENT = {"given_name": "Amina", "family_name": "Otieno", "sex": "female",
           "birth_date": "1990-04-02"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def meshd(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one `meshd` verb to its end (bounded)."""
    return subprocess.run([str(MESHD), *args], capture_output=True, text=True, timeout=timeout_s)


def eventually(check: Any, timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll `check()` (bounded) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL_S)  # other processes: there is no event to wait on
    raise AssertionError(f"{what} not met within {timeout_s} s")


@dataclass
class Meshd:
    """A `meshd run` subprocess on loopback and its API."""

    data_dir: Path
    api_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def peer_address(self) -> str:
        return f"127.0.0.1:{self.peer_port}"

    def start(self, *peers: str) -> Meshd:
        """Start `meshd run --no-mdns` and wait (bounded) until its API answers."""
        args = [str(MESHD), "run", "--data-dir", str(self.data_dir), "--api-port",
                str(self.api_port), "--peer-port", str(self.peer_port), "--no-mdns"]
        for peer in peers:
            args += ["--peer", peer]
        with (self.data_dir.parent / f"{self.data_dir.name}.log").open("a") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"meshd run exited: {self.log()}")
            try:
                if self.call("GET", "/api/v1/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(POLL_S)
        raise AssertionError(f"meshd run did not answer in {START_TIMEOUT_S} s: {self.log()}")

    def log(self) -> str:
        return (self.data_dir.parent / f"{self.data_dir.name}.log").read_text()[-4000:]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API request; (status, JSON body)."""
        token = (self.data_dir / "api-token").read_text().strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def register(self, **extra: Any) -> str:
        status, body = self.call("POST", "/api/v1/patients", {**PATIENT, **extra})
        assert status == 201, body
        return str(body["id"])

    def has_patient(self, patient_id: str) -> bool:
        return self.call("GET", f"/api/v1/patients/{patient_id}")[0] == 200

    def connected(self) -> int:
        status, body = self.call("GET", "/api/v1/sync/status")
        assert status == 200, body
        return sum(1 for peer in body["peers"] if peer.get("connected"))

    def open_pairing(self, **body: Any) -> str:
        status, answer = self.call("POST", "/api/v1/pairing", body)
        assert status == 201, answer
        return str(answer["code"])

    def pairing_state(self) -> dict[str, Any]:
        status, body = self.call("GET", "/api/v1/pairing")
        assert status == 200, body
        return dict(body)

    def stop(self) -> None:
        """SIGTERM and wait (bounded); SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
