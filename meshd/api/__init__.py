"""The JSON API of docs/ARCHITECTURE.md §9 on aiohttp: `create_api_app(clinic, authenticate)`."""

from meshd.api.app import create_api_app

__all__ = ["create_api_app"]
