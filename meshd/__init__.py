"""The clinicmesh daemon: store, documents, the clinic core, its doors (JSON API, the UI's
service), sync, membership, the node (composition root) and the CLI; docs/ARCHITECTURE.md."""
