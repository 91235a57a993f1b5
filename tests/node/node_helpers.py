"""Real `meshd` processes for tests: a free port, start, wait for health (bounded), stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MESHD = Path(sys.executable).with_name("meshd")
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def meshd(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one `meshd` verb to completion."""
    return subprocess.run(
        [str(MESHD), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class RunningNode:
    """A `meshd run` subprocess and how to talk to it."""

    process: subprocess.Popen[str]
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        """The API base URL."""
        return f"http://127.0.0.1:{self.port}"

    def token(self) -> str:
        """The API token of its data dir."""
        return (self.data_dir / "api-token").read_text().strip()

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             ) -> tuple[int, Any]:
        """One API request; (status, JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token or self.token()}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> int:
        """SIGTERM, wait (bounded), return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_node(data_dir: Path, *extra: str) -> RunningNode:
    """Start `meshd run` on a free port and wait until /api/v1/health answers."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [str(MESHD), "run", "--data-dir", str(data_dir), "--api-port", str(port),
         "--peer-port", str(free_port()), "--no-mdns", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    node = RunningNode(process, data_dir, port)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"meshd run exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(node.url + "/api/v1/health", timeout=1) as response:
                if response.status == 200:
                    return node
        except OSError:
            pass
        time.sleep(POLL_S)  # polling a subprocess's port: there is no event to wait on
    node.stop()
    raise AssertionError(f"meshd run did not answer within {START_TIMEOUT_S} s")
