"""The clinicmesh daemon: store, crypto, wire format, sync engine, relay, node lifecycle, CLI."""
