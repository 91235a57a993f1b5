"""Pairing on a real network: a new device finds the inviter by mDNS alone and pairs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns import NetnsRig
from netns_fixture import fresh_rig

pytestmark = pytest.mark.netns
NODE = str(Path(__file__).with_name("pairing_node.py"))


@pytest.fixture
def rig() -> Iterator[NetnsRig]:
    yield from fresh_rig()


@pytest.mark.parametrize("family", [4, 6])
def test_new_device_finds_the_inviter_and_pairs_over_link_local(rig: NetnsRig, family: int) -> None:
    inviter_host = rig.add_host("a", ipv4="169.254.40.2/16", ipv6=family == 6)
    joiner_host = rig.add_host("b", ipv4="169.254.40.3/16", ipv6=family == 6)
    inviter = inviter_host.spawn(
        sys.executable, NODE, "invite", "--id", "ward-a", "--mesh", "mesh-1", "--code", "042517"
    )
    inviter.wait_for_line(lambda line: '"ready"' in line, timeout_s=15)
    joiner = joiner_host.spawn(
        sys.executable, NODE, "join", "--id", "new-tab", "--code", "042 517",
        "--family", str(family),
    )  # fmt: skip
    result = json.loads(joiner.wait_for_line(lambda line: '"paired"' in line, timeout_s=20))
    assert result["secret"] == "secret of mesh-1"
    if family == 6:
        assert result["address"].startswith("fe80:") and "%" in result["address"]
    else:
        assert result["address"] == "169.254.40.2"
    joined = json.loads(inviter.wait_for_line(lambda line: '"joined"' in line, timeout_s=5))
    assert joined["identity"] == "pubkey|new-tab"


def test_wrong_code_over_the_network_gets_nothing(rig: NetnsRig) -> None:
    inviter_host = rig.add_host("a", ipv4="10.231.0.2/24", ipv6=False)
    joiner_host = rig.add_host("b", ipv4="10.231.0.3/24", ipv6=False)
    inviter = inviter_host.spawn(
        sys.executable, NODE, "invite", "--id", "ward-a", "--code", "042517"
    )
    inviter.wait_for_line(lambda line: '"ready"' in line, timeout_s=15)
    joiner = joiner_host.spawn(sys.executable, NODE, "join", "--id", "new-tab", "--code", "111111")
    result = json.loads(joiner.wait_for_line(lambda line: '"failed"' in line, timeout_s=20))
    assert result["code"] == "wrong_code"
    assert not any('"joined"' in line for line in inviter.seen)


def test_a_new_device_lists_every_device_offering_a_code(rig: NetnsRig) -> None:
    hosts = [rig.add_host(name, ipv4=f"169.254.41.{i}/16", ipv6=False)
             for i, name in enumerate(("a", "b", "c", "d"), start=2)]
    offering = [hosts[i].spawn(sys.executable, NODE, "invite", "--id", f"ward-{i}",
                               "--code", "042517") for i in (0, 1)]
    for inviter in offering:
        inviter.wait_for_line(lambda line: '"ready"' in line, timeout_s=15)
    # A device of a mesh with no pairing window open is not listed.
    quiet = hosts[2].spawn(sys.executable, str(Path(__file__).with_name("mdns_node.py")),
                           "--id", "ward-quiet", "--mesh", "mesh-1")
    quiet.wait_for_line(lambda line: '"started"' in line, timeout_s=15)
    lister = hosts[3].spawn(sys.executable, NODE, "list", "--id", "new-tab", "--lifetime-s", "4")
    listed = json.loads(lister.wait_for_line(lambda line: '"listed"' in line, timeout_s=20))
    assert listed["devices"] == ["ward-0", "ward-1"]
    assert quiet.popen.poll() is None  # it was advertising its mesh the whole time
