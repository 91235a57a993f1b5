"""A real node answers only to the host names it serves: a rebinding page gets 421."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_procs import MeshdProcess, make_mesh

from meshd.api.host_check import allowed_host_names, host_check_middleware

pytestmark = pytest.mark.slow
FOREIGN = "rebind.attacker.example"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[MeshdProcess]:
    (data,) = make_mesh(tmp_path, 1)
    proc = MeshdProcess(data).start([])
    yield proc
    proc.stop()


def _status(node: MeshdProcess, method: str, path: str, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", node.api_port, timeout=10)
    try:
        body = "name=x&pin=123456" if method == "POST" else None
        conn.request(method, path, body=body, headers={
            "Host": host, "Authorization": f"Bearer {node.data.api_token}",
            "Content-Type": "application/x-www-form-urlencoded",
        })
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/setup"), ("POST", "/setup"), ("GET", "/login"), ("POST", "/login"),
    ("GET", "/api/v1/patients?q=amina"),
])
def test_a_foreign_host_name_gets_421_before_any_handler(
    node: MeshdProcess, method: str, path: str
) -> None:
    assert _status(node, method, path, FOREIGN) == 421
    assert _status(node, method, path, f"{FOREIGN}:{node.api_port}") == 421


def test_the_names_the_node_serves_still_work(node: MeshdProcess) -> None:
    for host in ("127.0.0.1", f"127.0.0.1:{node.api_port}", f"localhost:{node.api_port}",
                 f"[::1]:{node.api_port}"):
        assert _status(node, "GET", "/api/v1/patients?q=amina", host) == 200, host
    assert _status(node, "GET", "/login", "localhost") in (200, 303)  # 303: to /setup


def test_a_name_given_to_host_is_served_and_ip_literals_always_are() -> None:
    names = allowed_host_names("clinic-desk.local")
    assert names == {"localhost", "clinic-desk.local"}
    assert allowed_host_names("0.0.0.0") == {"localhost"}
    assert host_check_middleware(names) is not None
