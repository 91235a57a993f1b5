"""The device node and its composition root: store, documents, the clinic core, roster,
keyring, sync engine, membership (pairing, mDNS), API and UI, built from the data dir in one
place (`Node._start`, see docs/ARCHITECTURE.md §2.2).

Lifecycle: `async with Node(options) as node:` or `start()` / `stop()`; every part is pushed on
one exit stack as it opens, so a failed start closes what opened and `stop()` closes all in
reverse order; `started` is set once the API listens; `stop()` is safe twice and leaves no task
running. `extensions` are called with (aiohttp app, node) once every part is built and before
the server starts: the web UI mounts its routes there (`meshd.ui_service.mount_ui`), and
`meshd invite` its endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from crdt_model.adapter import actor_for
from crdt_model.errors import ClinicMeshError
from meshd import allocator
from meshd.access_log import RouteAccessLogger
from meshd.api import create_api_app
from meshd.api.middleware import bearer_token_auth
from meshd.attest import Attestor
from meshd.clinic import Clinic, genesis_for, now_ms, project
from meshd.docs import Documents
from meshd.identity import RUN_FILE, DataDir, load_data_dir, load_store_key
from meshd.ingest_pool import IngestPool
from meshd.lifecycle import Lifecycle
from meshd.membership.keyring import Keyring
from meshd.membership.service import Membership
from meshd.relay.link import RelayLink
from meshd.relay.node_api import add_relay_routes
from meshd.relay.patients import RelayPatients
from meshd.signing_upgrade import vouch_history
from meshd.store.sqlcipher import SqlCipherStore
from meshd.sync.node_sync import NodeSync, node_sync
from meshd.sync.peering import DEFAULT_MAX_SESSIONS

log = logging.getLogger(__name__)

DEFAULT_API_PORT = 7700
DEFAULT_PEER_PORT = 7701
DEFAULT_HOST = "127.0.0.1"
SYSTEM_USER = "system"
# aiohttp waits this long for open requests to finish on stop (a browser keeps connections).
SHUTDOWN_GRACE_S = 2.0

Extension = Callable[[web.Application, "Node"], "Awaitable[None] | None"]


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """How to run a node: where its data lives and where it listens."""

    data_dir: Path
    host: str = DEFAULT_HOST
    api_port: int = DEFAULT_API_PORT
    peer_port: int = DEFAULT_PEER_PORT
    peers: Sequence[str] = ()  # always dialed
    hints: Sequence[str] = ()  # dialed if chosen within max_peers, as found over mDNS
    relay: str | None = None
    mdns: bool = True
    passphrase: str | None = None
    max_peers: int = DEFAULT_MAX_SESSIONS  # peer sessions kept at once (meshd.sync.peering)
    extensions: Sequence[Extension] = field(default_factory=tuple)


class Node(Lifecycle):
    """One running clinicmesh device."""

    def __init__(self, options: NodeOptions) -> None:
        self.options = options
        self.started = asyncio.Event()
        self.data: DataDir | None = None
        self.store: SqlCipherStore | None = None
        self.documents: Documents | None = None
        self.clinic: Clinic | None = None
        self.sync: NodeSync | None = None
        self.membership: Membership | None = None
        self.relay_patients: RelayPatients | None = None
        self.api_port: int | None = None
        self._reprojecting: asyncio.Task[int] | None = None
        self._parts = AsyncExitStack()

    async def start(self) -> None:
        """Open everything and start listening; on failure, close what was opened and raise."""
        if self.started.is_set():
            return
        try:
            await self._start(self._parts)
        except BaseException:
            await self.stop()
            raise
        self.started.set()

    async def _start(self, parts: AsyncExitStack) -> None:
        """The composition root: every part built from the data dir, in dependency order, each
        callback passed to a constructor, each lifecycle pushed on `parts` (closed in reverse)."""
        options = self.options
        allocator.limit_arenas()  # before the first thread: the store's, the loop's executor
        data = self.data = await asyncio.to_thread(load_data_dir, options.data_dir,
                                                    options.passphrase)
        key = await asyncio.to_thread(load_store_key, data, options.passphrase)
        store = self.store = await parts.enter_async_context(
            SqlCipherStore(data.store_path, key))
        device_id = data.identity.device_id
        genesis = genesis_for(device_id)
        attestor = Attestor(data.device_key, genesis)  # proves changes once the roster is read
        # A bulk sync's new charts are checked in a worker process while this one stores.
        ingest = await parts.enter_async_context(IngestPool(project))
        documents = self.documents = Documents(
            store, actor_for(device_id, SYSTEM_USER), genesis=genesis, project=project,
            attestor=attestor, ingest=ingest,
        )
        # The clinic fetches a missing attachment through the sync built below (once running).
        clinic = self.clinic = Clinic(documents, store, data.identity,
                                      fetch_blob=lambda sha256: sync.blobs.fetch(sha256))
        # Charts stored by an older schema get their new projection rows in the background.
        self._reprojecting = asyncio.create_task(self._reproject(documents))
        parts.push_async_callback(self._stop_reprojecting)
        # The keyring and the peer port's pairing route call parts built just below; they fire
        # only once the node runs. After a key rotation, sessions on the old key end.
        keyring = Keyring.of(data, on_new_epoch=lambda _epoch: sync.engine.end_outdated_sessions())
        sync = self.sync = node_sync(
            documents, data, options.peer_port, options.peers, keyring=keyring.entries,
            peer_routes=(lambda app: membership.add_peer_route(app),),
            wanted=clinic.missing_attachments,
            relay=lambda: relay.status(),
            max_sessions=options.max_peers,
        )
        for address in options.hints:
            sync.engine.add_peer(address)
        relay = RelayLink(documents, data, sync.engine)
        relay_patients = self.relay_patients = RelayPatients(relay, clinic, documents)
        # Rostered devices sign their own changes; the relay countersigns other clinics'.
        attestor.keys_for = relay.trusted_keys(sync.roster.signers)
        attestor.vouching = sync.roster.vouching
        # Once, on a store written before signing: before any peer asks for what it holds.
        await vouch_history(documents, attestor, data, now_ms())
        membership = self.membership = Membership(
            data, documents, clinic, keyring, sync.engine, mdns=options.mdns
        )
        app = create_api_app(clinic, bearer_token_auth(data.api_token), listen_host=options.host)
        for extension in options.extensions:
            result = extension(app, self)
            if result is not None:
                await result
        membership.add_api_routes(app)
        sync.add_routes(app)
        add_relay_routes(app, clinic, relay_patients)
        await parts.enter_async_context(sync)
        await parts.enter_async_context(relay)
        await parts.enter_async_context(membership)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S,
                               access_log_class=RouteAccessLogger)
        await runner.setup()
        parts.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, options.host, options.api_port).start()
        self.api_port = _bound_port(runner, options.api_port)
        await asyncio.to_thread(self._write_run_file)
        parts.push_async_callback(asyncio.to_thread, data.run_file.unlink, True)
        allocator.release()  # what start-up freed (the heads scan, the signing check)
        log.info("node %s listening on http://%s:%s", data.identity.device_name, options.host,
                 self.api_port)

    async def stop(self) -> None:
        """Close every part in reverse order (server, membership, sync, store, run.json);
        safe to call twice."""
        parts, self._parts = self._parts, AsyncExitStack()
        try:
            await parts.aclose()
        finally:
            self.store = self.documents = self.clinic = None
            self.sync = self.membership = None
            self.relay_patients = None
            self.started.clear()

    async def _stop_reprojecting(self) -> None:
        reprojecting, self._reprojecting = self._reprojecting, None
        if reprojecting is not None:
            reprojecting.cancel()
            await asyncio.gather(reprojecting, return_exceptions=True)

    @property
    def peer_port(self) -> int:
        """The port peers dial (the bound one when --peer-port 0 asked for any)."""
        if self.sync is None or not self.sync.engine.started.is_set():
            return self.options.peer_port
        return int(self.sync.engine.address.rsplit(":", 1)[1])

    async def run_until_signalled(self) -> None:
        """Start, serve until SIGTERM or SIGINT, then stop cleanly."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        try:
            await self.start()
            await stopping.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()

    async def reprojected(self) -> int:
        """Wait for the start-up reprojection to finish; how many documents it reprojected."""
        return await self._reprojecting if self._reprojecting is not None else 0

    @staticmethod
    async def _reproject(documents: Documents) -> int:
        try:
            done = await documents.reproject_due()
        except ClinicMeshError as exc:  # the marks stay: the next start tries again
            log.warning("reprojection after the schema upgrade stopped: %s", exc)
            return 0
        if done:
            log.info("reprojected %d documents for the new schema", done)
        return done

    def _write_run_file(self) -> None:
        assert self.data is not None
        record = {
            "pid": os.getpid(), "host": self.options.host, "api_port": self.api_port,
            "peer_port": self.peer_port, "started_ms": now_ms(),
        }
        tmp = self.data.run_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(tmp, self.data.run_file)


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    """The port the API really listens on (differs from `asked` when that was 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked


def running_node(data_dir: Path) -> dict[str, object] | None:
    """The run.json of a node still running on `data_dir`, or None."""
    try:
        record = json.loads((data_dir / RUN_FILE).read_text(encoding="utf-8"))
        os.kill(int(record["pid"]), 0)
    except PermissionError:
        pass  # alive, but run by another user
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if isinstance(record, dict) else None
