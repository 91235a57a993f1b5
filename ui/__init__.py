"""The clinician web UI: aiohttp routes, Jinja2 templates, static files. Never imports meshd."""
