"""The UI's pages, one module per station or concern; each exposes a `routes` table."""
