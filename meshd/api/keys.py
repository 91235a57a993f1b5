"""Typed keys of what the API app holds."""

from __future__ import annotations

from aiohttp import web

from meshd.service import Clinic

SERVICE = web.AppKey("service", Clinic)
