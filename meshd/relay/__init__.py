"""The central relay (`meshd relay`) and a node's link to it (`meshd relay-link`).

The relay runs the same sync engine, document rules and signature checks as a node, one store
and one engine per clinic (`space`), behind TLS (`server`); clinics authenticate with a
credential it issued (`credential`, `registry`). A node links to it with the credential kept in
its mesh directory (`link`) and reaches the relay's patient search and pull through its own API
(`node_api`). docs/ARCHITECTURE.md §5 "Relay" explains the trust model.
"""
