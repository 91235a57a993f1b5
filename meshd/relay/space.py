"""One clinic on the relay: its own encrypted store, documents, roster and sync engine.

Each clinic's data stays in its own SQLCipher file under `DIR/clinics/<id>/`, checked by the
same Documents, arrival rules and signature checks as on any node (meshd.remote_changes,
meshd.attest). The roster is the clinic's own `directory:<mesh>`: only its unrevoked devices
complete the handshake once the relay holds it, and only their signatures (or the relay's own,
over changes of other clinics' devices it checked already) prove a change.

Before the clinic's directory has reached the relay, a device that proves the credential's
secret may connect, and the directory it brings is taken as the roster (as a node takes the
directory pairing hands it); any other document waits (nothing stored, nothing refused) until
the roster is known, and the sessions then run anti-entropy again to bring it. Whom the space
trusts beyond the roster (the relay itself, its upstream and downstream relays) is a SpaceTrust
(meshd.relay.tiers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from crdt_model.adapter import ChangeInfo, Doc, actor_for
from crdt_model.ids import directory_id
from meshd.attest import Attestor, NotYetProven, latest_by_actor, signed_message
from meshd.clinic import Clinic, genesis_for, project
from meshd.docs import Documents, Listener
from meshd.identity import Identity
from meshd.lifecycle import Lifecycle
from meshd.relay.registry import ClinicRecord, RelayIdentity, now_ms
from meshd.relay.space_stores import SpaceStore, SpaceStores, SqliteStores
from meshd.relay.tiers import SpaceTrust
from meshd.store.base import Attestation, AuditEvent
from meshd.sync.directory_roster import DirectoryRoster
from meshd.sync.documents import DocumentsPort
from meshd.sync.engine import SyncEngine
from meshd.sync.handshake import Credentials
from meshd.sync.node_sync import Quarantine
from meshd.sync.peer import PeerSession
from meshd.sync.ports import Link, LinkClosed, LinkHandler
from meshd.sync.timing import SyncTiming

log = logging.getLogger(__name__)

RELAY_USER = "relay"


class InboundTransport:
    """The engine's Transport on the relay: links arrive from the relay's TLS server
    (`accept`); the relay never dials a clinic."""

    address = "relay"

    def __init__(self) -> None:
        self._on_link: LinkHandler | None = None

    async def start(self, on_link: LinkHandler) -> None:
        """Remember whom accepted links go to."""
        self._on_link = on_link

    async def accept(self, link: Link) -> None:
        """Run an accepted link's whole life (handshake, session) in the engine."""
        if self._on_link is not None:
            await self._on_link(link)

    async def connect(self, address: str) -> Link:
        """Never: clinics dial the relay."""
        raise LinkClosed("the relay does not dial clinics")

    async def stop(self) -> None:
        """Nothing to close: the server owns the sockets."""


class OpenUntilRostered(Collection[bytes]):
    """The keys a handshake accepts: any key (the dialer proved the credential's secret) until
    the clinic's directory lists devices, then exactly its unrevoked devices (and the
    downstream relay that serves the clinic, if any: SpaceTrust.peer_keys)."""

    def __init__(self, roster: DirectoryRoster, trust: SpaceTrust) -> None:
        self._roster = roster
        self._trust = trust

    def known(self) -> bool:
        """Whether the clinic's directory has reached the relay."""
        return len(self._roster()) > 1  # more than the relay's own key

    def __contains__(self, key: object) -> bool:
        return not self.known() or key in self._roster() or key in self._trust.peer_keys()

    def signers(self, prefix: bytes) -> set[bytes]:
        """The keys of the clinic's device `prefix` names (none: not the clinic's)."""
        return self._roster.signers(prefix)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._roster())

    def __len__(self) -> int:
        return len(self._roster())


class SpaceAttestor(Attestor):
    """The signature checks of a node, plus the bootstrap of the clinic's roster."""

    def __init__(self, identity: RelayIdentity, directory_doc: str,
                 roster: Callable[[], OpenUntilRostered]) -> None:
        super().__init__(identity.key, genesis_for(identity.device_id))
        self._directory_doc = directory_doc
        self._roster = roster

    def check(self, doc_id: str, new: Sequence[ChangeInfo], offered: Iterable[Attestation],
              now_ms: int | None = None) -> tuple[Attestation, ...]:
        """As any node, except before the roster is known (see the module docstring)."""
        if not self._roster().known():
            if doc_id != self._directory_doc:
                raise NotYetProven(f"{doc_id} waits for the clinic's directory")
            by_hash = {a.hash: a for a in offered}
            return tuple(by_hash[c.hash] for c in new if c.hash in by_hash)
        proven = super().check(doc_id, new, offered, now_ms)
        # A change of a device not on the roster proven by a relay's signature (not a vouch):
        # this relay countersigns it, so the clinic's devices (trusting its key only) accept it.
        return tuple(a if self._roster().signers(a.actor[:8]) or not self._signed_by_device(
            doc_id, a, a.actor[:8]) else Attestation(
            a.actor, a.seq, a.hash, self._key.sign(signed_message(doc_id, a.hash)))
            for a in proven)


class ClinicSpace(Lifecycle):
    """A clinic's store, documents, roster and sync engine on the relay."""

    def __init__(self, root: Path, clinic: ClinicRecord, mesh_id: str, identity: RelayIdentity,
                 timing: SyncTiming, on_change: Listener,
                 stores: SpaceStores | None = None, trust: SpaceTrust | None = None) -> None:
        self.clinic = clinic
        self.mesh_id = mesh_id
        self.path = root / "clinics" / clinic.id
        self.identity = identity
        self.last_contact_ms: int | None = None
        self._timing = timing
        self._on_change = on_change
        self._stores = stores or SqliteStores()
        self.trust = trust or SpaceTrust(identity.public_key)
        self._store: SpaceStore | None = None
        self.documents: Documents | None = None
        self.engine: SyncEngine | None = None
        self.transport = InboundTransport()
        self._roster: DirectoryRoster | None = None
        self._open: OpenUntilRostered | None = None
        self._quarantine: Quarantine | None = None
        self._refused_links = 0
        self._core: Clinic | None = None
        self._refusal: str | None = None

    async def start(self) -> None:
        """Open the clinic's store and start its engine (it accepts links from the server)."""
        self.path.mkdir(parents=True, exist_ok=True)
        store = self._store = await self._stores.open(self.clinic.id, self.path)
        identity, doc_id = self.identity, directory_id(self.mesh_id)
        attestor = self._attestor = SpaceAttestor(identity, doc_id, lambda: self.open_roster)
        documents = self.documents = Documents(
            store, actor_for(identity.device_id, RELAY_USER),
            genesis=genesis_for(identity.device_id), project=project, attestor=attestor)
        roster = self._roster = DirectoryRoster(documents, self.mesh_id, identity.public_key,
                                                identity.device_id, on_change=self._roster_changed)
        self._open = OpenUntilRostered(roster, self.trust)
        # Another clinic's device is proven by a relay's countersignature (§5 "Relay", "Tiers").
        attestor.keys_for = lambda prefix: roster.signers(prefix) or self.trust.keys_for(prefix)
        attestor.vouching = roster.vouching  # history from before signing, while its window is open
        self._quarantine = Quarantine(documents)
        credentials = Credentials(identity.key, "relay", bytes.fromhex(self.clinic.secret),
                                  lambda: self.open_roster)
        self.engine = SyncEngine(credentials, DocumentsPort(documents), self.transport,
                                 timing=self._timing, on_quarantine=self._quarantine.record)
        documents.subscribe(self._on_change)
        await self._stores.follow(store, documents)
        await roster.refresh()
        await self.engine.start()

    @property
    def open_roster(self) -> OpenUntilRostered:
        """Who may connect (see OpenUntilRostered)."""
        assert self._open is not None, "started"
        return self._open

    def _roster_changed(self) -> None:
        if self.engine is None:
            return
        self.engine.enforce_roster()
        for session in self.engine.sessions():  # what waited for the roster comes now
            session.request_anti_entropy()

    def end_sessions(self) -> None:
        """Close every session (the credential was revoked)."""
        for session in self.engine.sessions() if self.engine else ():
            session.close()

    def connected(self) -> bool:
        """Whether a device of the clinic is linked now."""
        return bool(self.links())

    def lists_device(self, prefix: bytes) -> bool:
        """Whether the clinic's roster lists the device `prefix` names."""
        return self._open is not None and bool(self._open.signers(prefix))

    def links(self) -> list[PeerSession]:
        """The sessions of the clinic's devices (or its downstream relay); not the upstream."""
        return [s for s in (self.engine.sessions() if self.engine else ()) if not s.channel.linked]

    def refused(self, reason: str) -> None:
        """Count a link refused before its handshake (e.g. a credential of another mesh)."""
        self._refused_links += 1
        self._refusal = reason

    def devices(self) -> list[dict[str, Any]]:
        """The clinic's devices linked now: name, key, bytes, messages received by kind."""
        return [{"name": s.channel.peer_name, "device_key": s.peer_id,
                 "bytes_in": s.channel.bytes_in, "bytes_out": s.channel.bytes_out,
                 "received": dict(s.received)}
                for s in self.links()]

    def errors(self) -> tuple[int, str | None]:
        """Refused links and handshakes and quarantined data, and the latest reason."""
        if self.engine is None or self._quarantine is None:
            return self._refused_links, self._refusal
        last = self._quarantine.records[-1].reason if self._quarantine.records else None
        return (self.engine.refused + self.engine.quarantined + self._refused_links,
                last or self._refusal)

    async def chart_count(self) -> int:
        """How many charts the clinic's store holds."""
        return len(await self.store.heads("chart:")) if self._store else 0

    @property
    def store(self) -> SpaceStore:
        """The clinic's store."""
        assert self._store is not None, "started"
        return self._store

    async def countersigned(self, doc_id: str) -> tuple[bytes, list[Attestation]] | None:
        """A chart as stored here, with the relay's signature over each actor's latest change
        (it was proven when it arrived), for another clinic; None when it is not here."""
        assert self.documents is not None

        def take(doc: Doc) -> tuple[bytes, list[Attestation]]:
            latest = latest_by_actor(doc.history()).values()
            return doc.save(), [self._attestor.attest(doc_id, change) for change in latest]

        if await self.store.read(doc_id) is None:
            return None
        return await self.documents.read(doc_id, take)

    async def take(self, doc_id: str, data: bytes, proven: Sequence[Attestation], origin: str,
                   audit: Sequence[AuditEvent] = ()) -> bool:
        """Merge a chart from another clinic's space (checked like any peer's data)."""
        assert self.documents is not None
        result = (await self.documents.apply_remote_many([(doc_id, data)], origin,
                                                         {doc_id: proven}))[0]
        if audit:
            await self.documents.record(audit)
        if isinstance(result, Exception):
            log.warning("clinic %s refused %s from %s: %s", self.clinic.name, doc_id, origin,
                        result)
            return False
        return True

    async def core(self) -> Clinic:
        """The clinic core over this space, acting as the relay's device (searches, services)."""
        if self._core is None:
            facilities = sorted(await self.store.heads("facility:"))
            facility = facilities[0].split(":", 1)[1] if facilities else "unknown"
            identity = Identity(self.identity.device_id, RELAY_USER, self.mesh_id, facility,
                                self.clinic.name)
            assert self.documents is not None
            self._core = Clinic(self.documents, self.store, identity)
        return self._core

    async def documents_record(self, event: AuditEvent) -> None:
        """Write one audit row in the clinic's store."""
        await self.store.write([], [event])

    def audit_event(self, action: str, doc_id: str, detail: str) -> AuditEvent:
        """An audit row for this clinic's store, written by the relay."""
        return AuditEvent(now_ms(), RELAY_USER, action, doc_id, "relay", detail[:500])

    async def stop(self) -> None:
        """Stop the engine and close the store; safe twice."""
        if self.engine is not None:
            await self.engine.stop()
        if self._roster is not None:
            self._roster.close()
        if self._quarantine is not None:
            await self._quarantine.flush()
        if self._store is not None:
            await self._store.stop()
        self.engine = self._roster = self._store = None
