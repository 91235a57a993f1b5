"""A device's `meshd run` loads only what a device needs (docs/ARCHITECTURE.md §7, memory):
the relay's server and PostgreSQL driver, the exports, mDNS without --mdns, SPAKE2 before a
pairing session and pydantic (typer 0.29+ parses argv with it) cost it ~25 MB resident."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from node_helpers import RunningNode

IMPORT_TIMEOUT_S = 60
# Modules a device's daemon never needs at start: imported by the verbs or sessions that do.
NOT_AT_START = (
    "psycopg", "psycopg_pool", "sqlite3", "meshd.relay.server", "meshd.relay.pg",
    "meshd.relay.pg_registry", "meshd.relay.registry", "meshd.exports.run",
    "meshd.exports.fhir", "meshd.exports.dhis2", "zeroconf", "discovery.mdns", "spake2",
    "pydantic",
)
# Shared objects of those libraries, as a running process maps them.
NOT_MAPPED = ("psycopg", "pydantic_core", "/zeroconf/", "lib-dynload/_sqlite3")


def test_importing_the_daemon_loads_no_relay_export_mdns_or_pairing_code() -> None:
    script = (
        "import json, sys\n"
        "import meshd.cli, meshd.node, meshd.ui_service\n"
        f"print(json.dumps(sorted(m for m in {NOT_AT_START!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=IMPORT_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_running_node_without_mdns_maps_none_of_those_libraries(
    tmp_path: Path, run_node: Callable[..., RunningNode]
) -> None:
    node = run_node(tmp_path / "desk")  # --no-mdns, as node_helpers starts every node
    status, _ = node.call("GET", "/api/v1/patients?q=amina")
    assert status == 200
    maps = Path(f"/proc/{node.process.pid}/maps").read_text()
    assert "/sqlcipher3/" in maps  # the check reads the right process
    assert [name for name in NOT_MAPPED if name in maps] == []
    assert node.stop() == 0
