"""Mesh membership: pairing a new device by code, mDNS in the node, the roster, revocation.

    sealing       Ed25519 -> X25519, and a mesh key sealed to one device (pure)
    secret        what the inviter hands a new device, and what the new device tells it (pure)
    keyring       the mesh keys of this device by epoch; adopting newer ones from the directory
    roster        the devices of `directory:<mesh>`: list, find, add, revoke with key rotation
    pairing_desk  the inviter's pairing window, served on the peer port
    mdns_link     advertise on the peer port, dial the mesh's peers found over mDNS
    service       the node's membership (the above, started together) and its JSON API
    joining       the new device's side: find an inviter, pair, create its data dir
    client        the CLI's side: talk to a running node, or to the store when none runs
    local_store   a data dir's store opened by a CLI verb
    commands      the `meshd pair|join|devices|revoke` verbs
    errors        PairingFailed, and discovery's errors mapped to the daemon's

Key epochs: a revocation rotates the mesh key (epoch + 1), sealed to each remaining device in
the directory; the handshake accepts a rostered device on an older key only to hand it the
directory (see meshd.sync.handshake). The daemon's errors are crdt_model's (ClinicMeshError).
"""
