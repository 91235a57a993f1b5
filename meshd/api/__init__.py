"""The JSON API of DESIGN §10 on aiohttp: `create_api_app(service, authenticate)`."""

from meshd.api.app import create_api_app

__all__ = ["create_api_app"]
