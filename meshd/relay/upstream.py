"""A downstream (district) relay's links to its upstream (national) relay (meshd.relay.tiers).

The tier credential lives in `DIR/upstream.json` (`meshd relay upstream FILE`; the running relay
notices a new or changed file within a status interval). For each clinic space the relay has
open, an UpstreamLink dials the upstream with the credential (bearer on the WebSocket request,
then the usual handshake with the clinic's derived secret and this relay's key) and hands the
channel to the space's own sync engine: the same push and anti-entropy as with any peer, both
ways, every change pushed (the relay is the clinic's only way up). The link is pull-based from
below and runs beside everything else: while the upstream is down it retries with backoff
(meshd.relay.link.LinkLoop) and nothing the space does waits for it; its backlog is then the
documents changed since, sent by anti-entropy once it is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from crdt_model.errors import ClinicMeshError
from meshd.lifecycle import Lifecycle
from meshd.relay import credential as cred
from meshd.relay.credential import Credential
from meshd.relay.link import CONNECTED, LinkLoop, RelayUnavailable, request_api
from meshd.relay.space import ClinicSpace
from meshd.relay.tiers import TIER_PATH, UPSTREAM_FILE, clinic_secret, upstream_clinic_id
from meshd.sync.handshake import Credentials, SecureChannel
from meshd.sync.ports import Heads
from meshd.sync.timing import SyncTiming

log = logging.getLogger(__name__)


class UpstreamLink(LinkLoop):
    """One clinic space's link to the upstream relay."""

    def __init__(self, space: ClinicSpace, timing: SyncTiming) -> None:
        assert space.engine is not None and space.documents is not None, "started"
        super().__init__(space.engine, timing)
        self._space = space
        self._offline: set[str] = set()  # documents changed while the link was down
        self._unsubscribe: Callable[[], None] = space.documents.subscribe(self._heard)

    async def use(self, found: Credential | None) -> None:
        """Dial with this tier credential from now on."""
        await self._use(found)

    async def stop(self) -> None:
        """End the link; safe twice."""
        self._unsubscribe()
        await super().stop()

    async def _heard(self, doc_id: str, heads: Heads, origin: str) -> None:
        if self.state != CONNECTED:
            self._offline.add(doc_id)

    def _target(self, found: Credential) -> tuple[str, Credentials]:
        space = self._space
        query = urlencode({"mesh": space.mesh_id, "key": space.identity.public_key.hex(),
                           "name": space.clinic.name})
        url = (f"wss://{urlsplit(found.url).netloc}{TIER_PATH}{found.clinic_id}/"
               f"{space.clinic.id}?{query}")
        secret = bytes.fromhex(clinic_secret(found.secret, space.clinic.id))
        return url, Credentials(space.identity.key, f"relay {found.clinic}", secret,
                                lambda: {found.relay_public})

    def _headers(self, found: Credential) -> dict[str, str]:
        return {"Authorization": f"Bearer {found.bearer}"}

    async def call(self, method: str, path: str, timeout_s: float) -> tuple[int, Any]:
        """One request to the upstream's API as this clinic's tier clinic there (its id and
        derived secret as bearer); (status, JSON answer), RelayUnavailable if unreachable."""
        found, client = self.credential, self._client
        if found is None or client is None:
            raise RelayUnavailable("this relay has no upstream")
        clinic_id = self._space.clinic.id
        bearer = f"{upstream_clinic_id(found.clinic_id, clinic_id)}." \
                 f"{clinic_secret(found.secret, clinic_id)}"
        return await request_api(client, found, method, path, bearer, timeout_s,
                                 "the upstream relay can't be reached")

    def _linked(self, channel: SecureChannel) -> None:
        channel.linked = channel.push_all = True
        self._offline.clear()  # anti-entropy at the session's start carries them

    def status(self) -> dict[str, Any]:
        """{clinic_id, clinic, state, last_contact_ms, backlog}: backlog is the documents queued
        for the upstream while linked, else those changed since the link went down."""
        backlog = len(self._offline)
        if self.state == CONNECTED and self.credential is not None:
            key = self.credential.relay_public
            backlog = sum(s.pending_out() for s in self._engine.sessions()
                          if s.channel.peer_key == key)
        return {"clinic_id": self._space.clinic.id, "clinic": self._space.clinic.name,
                "state": self.state, "last_contact_ms": self.last_contact_ms,
                "backlog": backlog}


def read_upstream(data_dir: Path) -> Credential | None:
    """The tier credential `meshd relay upstream` stored, or None."""
    path = data_dir / UPSTREAM_FILE
    return cred.read_file(path) if path.exists() else None


class Upstream(Lifecycle):
    """Every clinic space's upstream link, following `DIR/upstream.json`."""

    def __init__(self, data_dir: Path, timing: SyncTiming) -> None:
        self._path = data_dir / UPSTREAM_FILE
        self._timing = timing
        self._seen: float | None = None
        self.credential: Credential | None = None
        self.links: dict[str, UpstreamLink] = {}

    def key(self) -> bytes | None:
        """The upstream relay's key (it countersigns changes of devices of other clinics)."""
        return None if self.credential is None else self.credential.relay_public

    async def start(self) -> None:
        """Read the tier credential, if any."""
        await self._reload()

    async def stop(self) -> None:
        """End every link; safe twice."""
        links, self.links = list(self.links.values()), {}
        for link in links:
            await link.stop()

    async def attach(self, space: ClinicSpace) -> None:
        """Link the space upstream (once), if this relay has an upstream."""
        if self.credential is None or space.clinic.id in self.links:
            return
        link = self.links[space.clinic.id] = UpstreamLink(space, self._timing)
        await link.start()
        await link.use(self.credential)

    async def refresh(self, spaces: Iterable[ClinicSpace]) -> None:
        """Take up a new or changed credential file; link every open space."""
        if await self._reload():
            for link in self.links.values():
                await link.use(self.credential)
        for space in list(spaces):
            await self.attach(space)

    async def _reload(self) -> bool:
        """Read the file if it changed since; whether the credential changed."""
        try:
            seen = self._path.stat().st_mtime if self._path.exists() else None
            if seen == self._seen:
                return False
            self._seen = seen
            found = await asyncio.to_thread(read_upstream, self._path.parent)
        except (ClinicMeshError, OSError) as exc:
            log.warning("the upstream credential is not usable: %s", exc)
            found = None
        changed, self.credential = found != self.credential, found
        return changed

    def status(self) -> list[dict[str, Any]]:
        """Each clinic's upstream link (UpstreamLink.status)."""
        return [link.status() for link in self.links.values()]
