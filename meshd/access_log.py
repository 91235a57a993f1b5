"""The node's HTTP access log: method, route pattern, status, size and time; nothing typed.

aiohttp's default line carries the request line (with its query string: `?q=amina%20bello`) and
the Referer (the previous page's URL, query and all), so patient searches reached the log. Here
a request is named by its route's pattern (`/api/v1/patients/{id}`), never by its concrete path,
so neither what a clinician typed nor an id of a patient is written.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

UNROUTED = "(no route)"  # a 404's path is whatever was typed: not logged either


def route_of(request: web.BaseRequest) -> str:
    """The pattern of the route that served `request`, or UNROUTED."""
    match_info = getattr(request, "match_info", None)
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    return str(resource.canonical) if resource is not None else UNROUTED


class RouteAccessLogger(AbstractAccessLogger):
    """One line per request, naming the route's pattern; no query, referer or user agent."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write the line for one finished request."""
        self.logger.info(
            '%s "%s %s" %s %s %.3fs', request.remote or "-", request.method, route_of(request),
            response.status, response.body_length, time,
        )
