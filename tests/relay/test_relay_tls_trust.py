"""The relay's certificate is trusted explicitly, never by turning TLS checks off: a credential
without the relay's certificate gets nowhere with a self-signed relay, and `relay-link
--insecure-ca CERT` trusts exactly that certificate."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow

TRIES_S = 4.0  # a few dials with backoff



def _relay(node: MeshdProcess) -> dict[str, Any]:
    relay = node.sync_status().get("relay")
    return relay if isinstance(relay, dict) else {}


def test_a_self_signed_relay_is_reached_only_when_its_certificate_is_trusted(
    tmp_path: Path, started: list[Any]
) -> None:
    relay = RelayProcess(tmp_path).start()
    started.append(relay)
    (data,) = make_mesh(tmp_path / "A", 1)
    issued = relay.add_clinic("Clinic A")
    bare = tmp_path / "bare.credential"
    bare.write_text(json.dumps(json.loads(issued.read_text()) | {"ca_pem": None}))
    node = MeshdProcess(data).start([])
    started.append(node)

    done = meshd("relay-link", "--data-dir", str(data.path), str(bare))
    assert done.returncode == 0, done.stderr
    eventually(lambda: _relay(node).get("url"), 10, "the credential read from the directory")
    time.sleep(TRIES_S)  # to show it does NOT connect, some dials must have been tried
    assert _relay(node)["state"] != "connected"
    assert relay.clinic("Clinic A")["mesh_id"] is None  # no TLS session, no request

    done = meshd("relay-link", "--data-dir", str(data.path), str(bare),
                 "--insecure-ca", str(relay.cert))
    assert done.returncode == 0, done.stderr
    eventually(lambda: _relay(node)["state"] == "connected", 30, "linked with the trusted cert")
