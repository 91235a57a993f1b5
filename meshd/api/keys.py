"""Typed keys of what the API app holds."""

from __future__ import annotations

from aiohttp import web

from meshd.clinic import Clinic

SERVICE = web.AppKey("clinic", Clinic)
