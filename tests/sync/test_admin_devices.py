"""Admin devices on real nodes: an ordinary device can't pair, revoke or manage users until an
admin device marks it admin, and that mark reaches it through sync like any change."""

from __future__ import annotations

from pathlib import Path

from meshd_procs import eventually
from sync_procs import MeshdProcess, make_mesh


def test_only_an_admin_device_pairs_and_revokes_until_it_marks_another(tmp_path: Path) -> None:
    founder_dir, tablet_dir, _ = make_mesh(tmp_path, 3)  # node-2: a device to revoke
    founder = MeshdProcess(founder_dir).start([])
    tablet = MeshdProcess(tablet_dir).start([founder.peer_address])
    try:
        status, body = tablet.call("POST", "/api/v1/pairing", {})
        assert status == 403 and b"admin device: node-0" in body
        status, body = tablet.call("POST", "/api/v1/devices/revoke", {"device": "node-2"})
        assert status == 403 and b"not an admin device" in body
        rows = {r["name"]: r for r in tablet.call("GET", "/api/v1/devices")[1]["devices"]}
        assert rows["node-0"]["admin"] and not rows["node-1"]["admin"]
        assert not rows["node-2"]["revoked"]  # the refused revocation wrote nothing

        status, _ = founder.call("POST", "/api/v1/devices/admin", {"device": "node-1"})
        assert status == 200
        eventually(lambda: tablet.call("POST", "/api/v1/pairing", {})[0] == 201, 20)
        status, done = tablet.call("POST", "/api/v1/devices/revoke", {"device": "node-2"})
        assert status == 200 and done["name"] == "node-2"
        eventually(lambda: {r["name"]: r["revoked"] for r in founder.call(
            "GET", "/api/v1/devices")[1]["devices"]}["node-2"], 20)
    finally:
        tablet.stop()
        founder.stop()
