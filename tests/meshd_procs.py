"""Real `meshd` processes for tests: a free port, one verb, wait for health, stop, poll."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

MESHD = Path(sys.executable).with_name("meshd")
STOP_TIMEOUT_S = 10.0
API_TIMEOUT_S = 10.0
POLL_S = 0.05


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def meshd(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one `meshd` verb to its end (bounded)."""
    return subprocess.run(
        [str(MESHD), *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def call_api(port: int, token: str, method: str, path: str,
             body: Any = None) -> tuple[int, str, bytes]:
    """One request to the API on 127.0.0.1:`port` with `token`; (status, content type, body)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_S) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as exc:  # an answer all the same: 4xx and 5xx
        return exc.code, exc.headers.get_content_type(), exc.read()


def wait_until_healthy(
    process: subprocess.Popen[str], answers: Callable[[], bool], log: Callable[[], str],
    timeout_s: float,
) -> None:
    """Poll `answers()` (bounded) until true; fail with `log()` if the process ends or hangs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"meshd run exited with {process.returncode}:\n{log()}")
        try:
            if answers():
                return
        except OSError:
            pass
        time.sleep(POLL_S)  # polling a subprocess's port: there is no event to wait on
    stop_process(process)  # its log is complete only once it has ended
    raise AssertionError(f"meshd run did not answer within {timeout_s} s:\n{log()}")


def stop_process(process: subprocess.Popen[str]) -> int:
    """SIGTERM and wait (bounded) for the exit code; SIGKILL and re-raise if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def eventually(check: Callable[[], Any], timeout_s: float = 60.0, what: str = "condition") -> Any:
    """Poll `check()` (bounded) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL_S)  # other processes: there is no event to wait on
    raise AssertionError(f"{what} not met within {timeout_s} s")
