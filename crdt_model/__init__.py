"""The clinical domain on Automerge: pure functions over documents, no I/O, no clock reads
(documents and their merge rules: docs/ARCHITECTURE.md §3)."""
