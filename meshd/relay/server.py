"""The relay process: a TLS server in front of one ClinicSpace per clinic.

    wss://HOST:PORT/relay/v1/sync/<clinic id>?mesh=<mesh id>   a device's sync link
    wss://HOST:PORT/relay/v1/tier/<downstream>/<clinic>?…      a downstream relay's (tiers)
    GET  /relay/v1/patients?q=TEXT                             search every clinic (bearer)
    POST /relay/v1/patients/<id>/pull                          bring a chart to the caller's clinic
    POST /relay/v1/patients/<id>/lab-results                   an ancillary service's result
    GET  /relay/v1/health                                      no auth
    GET  /relay/operator                                       the operator's page (login)

A clinic's credential opens its own space only (its id in the path, its secret as the handshake
key); an unknown or revoked credential is refused before the WebSocket opens, a wrong secret
fails the handshake. The first link binds the clinic to its mesh id; another mesh is refused.
With an upstream relay (`DIR/upstream.json`) every open space also links to it (meshd.relay.
upstream); a downstream relay's links arrive through meshd.relay.downstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from meshd.lifecycle import Lifecycle
from meshd.relay.credential import SYNC_PATH, secret_matches
from meshd.relay.downstream import Downstreams
from meshd.relay.operator import OperatorPage
from meshd.relay.pg import PgDatabase
from meshd.relay.pg_registry import PgRegistry, open_registry
from meshd.relay.pg_store import PgStores
from meshd.relay.registry import ClinicRecord, now_ms, publish_address, relay_identity
from meshd.relay.services import Services
from meshd.relay.sharing import Sharing
from meshd.relay.space import ClinicSpace
from meshd.relay.space_stores import SpaceStores, SqliteStores
from meshd.relay.upstream import Upstream
from meshd.sync.timing import SyncTiming
from meshd.sync.websocket import _MAX_MSG_SIZE, HEARTBEAT_S, WebSocketLink

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 2.0
SHUTDOWN_GRACE_S = 2.0
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class RelayOptions:
    """Where the relay keeps its data, where it listens, its TLS pair."""

    data_dir: Path
    host: str
    port: int
    cert: Path
    key: Path
    timing: SyncTiming = field(default_factory=SyncTiming)
    db: str | None = None  # postgresql://… (meshd.relay.pg), else SQLite in the data dir


class RelayServer(Lifecycle):
    """The running relay."""

    def __init__(self, options: RelayOptions) -> None:
        self.options = options
        self.registry = open_registry(options.data_dir, options.db)
        self.identity = relay_identity(options.data_dir)
        url = self.registry.url if isinstance(self.registry, PgRegistry) else None
        self.db = PgDatabase(url, options.data_dir) if url else None
        self._stores: SpaceStores = PgStores(self.db) if self.db else SqliteStores()
        self.spaces: dict[str, ClinicSpace] = {}
        self.upstream = Upstream(options.data_dir, options.timing)
        self.sharing = Sharing(self)
        self.services = Services(self)
        self.downstreams = Downstreams(self)
        self.port: int | None = None
        self._opening = asyncio.Lock()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open every bound clinic's space, listen over TLS, publish the address."""
        try:
            if self.db is not None:
                await self.db.start()
            await self.upstream.start()
            await self._open_bound()
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(self.options.cert, self.options.key)
            app = web.Application(client_max_size=MAX_REQUEST_BYTES)
            app.router.add_get(SYNC_PATH + "{clinic}", self._sync)
            app.router.add_get("/relay/v1/health", self._health)
            self.sharing.add_routes(app)
            self.services.add_routes(app)
            self.downstreams.add_routes(app)
            OperatorPage(self).add_routes(app)
            self._runner = web.AppRunner(app, handle_signals=False,
                                         shutdown_timeout=SHUTDOWN_GRACE_S)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.options.host, self.options.port,
                              ssl_context=tls).start()
            self.port = int(self._runner.addresses[0][1])
            cert_pem = self.options.cert.read_text(encoding="utf-8")
            await asyncio.to_thread(publish_address, self.options.data_dir,
                                    f"https://{self.options.host}:{self.port}", cert_pem)
            self._ticker = asyncio.create_task(self._tick())
            log.info("relay listening on https://%s:%s", self.options.host, self.port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close the server and every space; safe twice."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.upstream.stop()
        for space in list(self.spaces.values()):
            await space.stop()
        self.spaces.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.db is not None:
            await self.db.stop()
        if isinstance(self.registry, PgRegistry):
            self.registry.close()

    async def _open_bound(self) -> None:
        """Open the space of every bound, unrevoked clinic not open yet (on PostgreSQL another
        relay process may have bound one since: searches reach it, and its changes)."""
        for clinic in await asyncio.to_thread(self.registry.clinics):
            if clinic.mesh_id and clinic.revoked_ms is None and clinic.id not in self.spaces:
                await self.space(clinic, clinic.mesh_id)

    async def space(self, clinic: ClinicRecord, mesh_id: str) -> ClinicSpace:
        """The clinic's space, opened on first use."""
        async with self._opening:
            space = self.spaces.get(clinic.id)
            if space is None:
                space = ClinicSpace(self.options.data_dir, clinic, mesh_id, self.identity,
                                    self.options.timing, self.sharing.listener(clinic.id),
                                    self._stores, await self.downstreams.trust(clinic))
                await space.start()
                self.spaces[clinic.id] = space
                await self.upstream.attach(space)
            return space

    async def clinic_of(self, request: web.Request) -> ClinicRecord:
        """The clinic whose valid, unrevoked credential is the request's bearer; else 401."""
        header = request.headers.get("Authorization", "")
        clinic_id, _, secret = header.removeprefix("Bearer ").partition(".")
        clinic = await asyncio.to_thread(self.registry.clinic, clinic_id) if clinic_id else None
        if clinic is None or clinic.revoked_ms is not None \
                or not secret_matches(clinic.secret, secret):
            raise web.HTTPUnauthorized(text='{"error": "unauthorized", "message": '
                                            '"no valid relay credential"}',
                                       content_type="application/json")
        return clinic

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "relay_key": self.identity.public_key.hex()})

    async def _sync(self, request: web.Request) -> web.StreamResponse:
        clinic = await asyncio.to_thread(self.registry.clinic, request.match_info["clinic"])
        mesh_id = request.query.get("mesh", "")
        if clinic is None or clinic.revoked_ms is not None or not mesh_id:
            raise web.HTTPForbidden(text="no such clinic on this relay")
        return await self.serve_link(request, clinic, mesh_id)

    async def serve_link(self, request: web.Request, clinic: ClinicRecord, mesh_id: str
                         ) -> web.StreamResponse:
        """Bind the clinic to `mesh_id` (its first link's) and run the WebSocket as a link of
        its space: the handshake, then a session of the space's engine."""
        if not await asyncio.to_thread(self.registry.bind_mesh, clinic.id, mesh_id):
            if clinic.id in self.spaces:
                self.spaces[clinic.id].refused("a link named another clinic's mesh")
            raise web.HTTPForbidden(text="this credential belongs to another mesh")
        space = await self.space(clinic, mesh_id)
        ws = web.WebSocketResponse(max_msg_size=_MAX_MSG_SIZE, heartbeat=HEARTBEAT_S)
        await ws.prepare(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        link = WebSocketLink(ws, f"{peer[0]}:{peer[1]}" if peer else "?", lambda _link: None)
        space.last_contact_ms = now_ms()
        try:
            await space.transport.accept(link)
        finally:
            await link.close()
            space.last_contact_ms = now_ms()
        return ws

    async def _tick(self) -> None:
        """Every few seconds: revocations take effect, live figures go to the registry."""
        while True:
            try:
                await self._record()
            except Exception:  # figures are best effort; the relay keeps serving
                log.exception("recording the relay's status failed")
            await asyncio.sleep(STATUS_INTERVAL_S)

    async def _record(self) -> None:
        if self.db is not None:
            await self._open_bound()
        await self.upstream.refresh(self.spaces.values())
        if self.upstream.links:
            await asyncio.to_thread(self.downstreams.records.record_upstream,
                                    self.upstream.status())
        records = {c.id: c for c in await asyncio.to_thread(self.registry.clinics)}
        for clinic_id, space in list(self.spaces.items()):
            record = records.get(clinic_id)
            if record is None or record.revoked_ms is not None:
                space.end_sessions()
            if space.connected():
                space.last_contact_ms = now_ms()
            elif self.db is not None and record is not None and record.last_contact_ms and (
                    space.last_contact_ms or 0) < record.last_contact_ms:
                continue  # another relay process serves it now: its figures stand
            errors, last = space.errors()
            await asyncio.to_thread(self.registry.record_contact, clinic_id,
                                    await space.chart_count(), errors, last,
                                    space.last_contact_ms, space.devices())


async def run_relay(options: RelayOptions) -> None:
    """Run the relay until SIGTERM or SIGINT."""
    import signal

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    server = RelayServer(options)
    async with server:
        await stopping.wait()
