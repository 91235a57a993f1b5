"""Three fresh devices on a bridge with only link-local addresses (no router, no DHCP), no
--peer anywhere: one creates the mesh, two join with a code found over mDNS, and a patient
registered on the first reaches the third within 2 seconds."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import NetnsRig, wait_until
from netns_fixture import fresh_rig
from pairing_rig import MESHD, Device, join_by_mdns

from meshd.identity import init_data_dir, load_data_dir
from meshd.membership.mdns_link import short_device_id

pytestmark = pytest.mark.netns

CONNECT_S = 30.0
SYNC_BUDGET_S = 2.0
READDRESS_S = 45.0  # address poll (3 s), dead-link detection, redial backoff


@pytest.fixture
def rig() -> Iterator[NetnsRig]:
    yield from fresh_rig()


def test_three_fresh_devices_pair_over_mdns_and_sync_a_patient_within_two_seconds(
    rig: NetnsRig, tmp_path: Path
) -> None:
    subnet = f"169.254.{secrets.randbelow(200) + 20}"
    hosts = [rig.add_host(name, ipv4=f"{subnet}.{i}/16", ipv6=False)
             for i, name in enumerate(("a", "b", "c"), 2)]
    devices = [Device(host, tmp_path / host.name) for host in hosts]
    a, b, c = devices
    try:
        init_data_dir(a.data_dir, device_name="reception", facility_name="Island")
        a.run()
        joined_b = join_by_mdns(a, b, "triage", run=True)
        offers: list[str] = []
        joined_c = join_by_mdns(a, c, "lab", run=True, offers=offers)
        a_id = load_data_dir(a.data_dir).identity.device_id
        assert offers == [short_device_id(a_id)]  # only a shows a code: b is not listed
        assert joined_b["mesh"] == joined_c["mesh"]
        assert joined_b["inviter"].startswith(f"{subnet}.2:")  # found a's link-local address

        wait_until(lambda: c.connected() == {"reception", "triage"}
                   and a.connected() == {"triage", "lab"}, timeout_s=CONNECT_S,
                   what="the three devices connected over mDNS")
        registered_at = time.monotonic()
        patient = a.register()
        wait_until(lambda: c.has_patient(patient), timeout_s=SYNC_BUDGET_S,
                   what="the patient on the third device")
        assert time.monotonic() - registered_at < SYNC_BUDGET_S
        assert MESHD  # the rig spawned real `meshd` processes
    finally:
        for device in devices:
            device.close()


def test_paired_devices_find_each_other_again_after_an_address_change(
    rig: NetnsRig, tmp_path: Path
) -> None:
    subnet = f"169.254.{secrets.randbelow(200) + 20}"
    a_host, b_host = (rig.add_host(name, ipv4=f"{subnet}.{i}/16", ipv6=False)
                      for i, name in enumerate(("a", "b"), 2))
    a, b = Device(a_host, tmp_path / "a"), Device(b_host, tmp_path / "b")
    try:
        init_data_dir(a.data_dir, device_name="reception")
        a.run()
        join_by_mdns(a, b, "triage", run=True)
        wait_until(lambda: a.connected() == {"triage"}, timeout_s=CONNECT_S, what="connected")

        # The tablet's link-local address changes (a new Wi-Fi, a re-negotiated address).
        b_host.run("ip", "addr", "flush", "dev", "eth0")
        b_host.run("ip", "addr", "add", f"{subnet}.99/16", "dev", "eth0")
        b_host.run("ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
        patient = a.register()
        wait_until(lambda: b.has_patient(patient), timeout_s=READDRESS_S,
                   what="the patient on the device at its new address")
        assert any(peer.startswith(f"{subnet}.99:") for peer in a_peers(a))
    finally:
        for device in (a, b):
            device.close()


def a_peers(device: Device) -> list[str]:
    """The addresses of the peers a device has a live session with."""
    peers = device.call("GET", "/api/v1/sync/status")["peers"]
    return [str(p.get("address")) for p in peers if p["connected"]]
