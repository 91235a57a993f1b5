"""How peers find each other: mDNS, static peer lists, ad-hoc pairing by code or QR.

Imports no other clinicmesh package (docs/ARCHITECTURE.md §2); the daemon wires it. Modules:

    errors          DiscoveryError and its subclasses
    hints           PeerHint, the TXT record, mesh_hash (pure)
    netaddrs        this host's IPv4/IPv6 addresses (ifaddr)
    mdns            MeshDiscovery (advertise + browse)
    inviting        the devices nearby that show a pairing code (for a new device)
    static          parse_peer / parse_peers for `--peer HOST:PORT`
    pairing         PairingWindow, InviterSession, JoinerSession (sans-I/O SPAKE2 pairing)
    pairing_wire    pairing messages and the key schedule (pure)
    pairing_channel PairingChannel protocol, run_inviter / run_joiner, memory_channel_pair
    pairing_http    the aiohttp WebSocket route and the joiner's client
    qr              the pairing URI and its QR code (terminal, PNG, SVG)
"""
