"""The clinician web UI: aiohttp routes, Jinja2 templates, static files. Never imports meshd;
the daemon serves it over the clinic core (docs/ARCHITECTURE.md §2)."""
