"""USB bundles: a mesh's documents carried on a stick, compressed, sealed and signed."""
