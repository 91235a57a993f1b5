"""This device's own IP addresses, read from the interfaces (via `ifaddr`, a zeroconf dependency).

Polled by the mDNS advertiser: a laptop that joins a hotspot, gets a link-local address or loses
its Wi-Fi changes addresses without telling anyone.
"""

from __future__ import annotations

import ipaddress

import ifaddr


def local_addresses(*, include_loopback: bool = False) -> tuple[str, ...]:
    """Every IPv4 and IPv6 address of this host (link-local included), sorted, no duplicates."""
    found: set[str] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            # ifaddr gives IPv6 as (address, flowinfo, scope_id); the scope is re-added per
            # interface by zeroconf on the receiving side, so it is dropped here.
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                continue
            if address.is_loopback and not include_loopback:
                continue
            if address.is_multicast or address.is_unspecified:
                continue
            found.add(str(address))
    return tuple(sorted(found, key=lambda a: (":" in a, a)))
