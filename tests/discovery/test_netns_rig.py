"""The real-network rig itself: isolation, partitions, shaping, and cleanup even on failure."""

from __future__ import annotations

import subprocess
import sys

import pytest
from netns import NetemUnavailable, NetnsRig, skip_reason

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


LISTENER = (
    "import socket, sys\n"
    "server = socket.create_server((sys.argv[1], 9000))\n"
    "print('listening', flush=True)\n"
    "while True:\n"
    "    server.accept()[0].close()\n"
)


def test_hosts_reach_each_other_and_a_partition_cuts_one_off_until_healed() -> None:
    with NetnsRig() as rig:
        a = rig.add_host("a", ipv4="10.231.9.2/24", ipv6=False)
        b = rig.add_host("b", ipv4="10.231.9.3/24", ipv6=False)
        assert a.addresses() == ["10.231.9.2"] and b.ipv4 == "10.231.9.3"
        listener = b.spawn(sys.executable, "-c", LISTENER, "10.231.9.3")
        listener.wait_for_line(lambda line: line == "listening", timeout_s=10)
        assert a.can_connect("10.231.9.3", 9000)
        rig.partition(b)
        assert not a.can_connect("10.231.9.3", 9000, timeout_s=0.5)
        rig.heal(b)
        assert a.can_connect("10.231.9.3", 9000, timeout_s=5)


def test_shaping_applies_or_says_the_kernel_lacks_it() -> None:
    with NetnsRig() as rig:
        a = rig.add_host("a", ipv4="10.231.9.2/24", ipv6=False)
        rig.limit_rate(a, "128kbit")
        assert "tbf" in a.run("tc", "qdisc", "show", "dev", "eth0")
        rig.clear_shaping(a)
        try:
            rig.netem(a, "delay 150ms")
        except NetemUnavailable as error:  # this kernel has no sch_netem: say so plainly
            assert "sch_netem" in str(error)
            assert "netem" not in a.run("tc", "qdisc", "show", "dev", "eth0")
        else:
            assert "netem" in a.run("tc", "qdisc", "show", "dev", "eth0")


def test_everything_is_removed_even_when_the_test_fails() -> None:
    before = _namespaces()
    with pytest.raises(ZeroDivisionError), NetnsRig() as rig:
        host = rig.add_host("a", ipv4="10.231.9.2/24")
        sleeper = host.spawn("sleep", "60")
        assert {rig.bridge_netns, host.netns} <= _namespaces()
        _ = 1 / 0
    assert sleeper.popen.poll() is not None
    assert _namespaces() <= before
    rig.close()  # twice is safe


def test_host_names_and_addresses_stay_within_the_rigs_rules() -> None:
    with NetnsRig() as rig:
        with pytest.raises(ValueError, match="host name"):
            rig.add_host("Not_OK")
        with pytest.raises(ValueError, match="only uses"):
            rig.add_host("a", ipv4="192.168.1.2/24")
