"""Real `meshd run` processes sharing one mesh, for multi-process sync tests.

Pairing is not what these tests exercise, so the data dirs are joined to one mesh directly: the
same mesh key and id, and every device written into each store's `directory:<mesh>` roster.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from meshd_procs import MESHD, STOP_TIMEOUT_S, call_api, free_port, stop_process, wait_until_healthy

from crdt_model import chart, directory
from crdt_model.context import Author
from crdt_model.ids import chart_id, directory_id
from crdt_model.sample import build_sample_chart
from meshd import identity
from meshd.attest import Attestor, device_prefix, latest_by_actor
from meshd.clinic import genesis_for, project
from meshd.docs import Documents
from meshd.store.base import Attestation, DocWrite
from meshd.store.sqlcipher import SqlCipherStore
from meshd.sync.crypto import public_bytes

START_TIMEOUT_S = 20.0
# The devices that generated test charts name as authors (tests/sync/chart_pairs.py): every
# mesh made here rosters them, and their changes are signed with these keys.
AUTHOR_DEVICES = {
    device_id: Ed25519PrivateKey.from_private_bytes(hashlib.sha256(device_id.encode()).digest())
    for device_id in ("aa" * 8, "bb" * 8, "cc" * 8)
}
AT_MS = 1_763_800_000_000


def make_mesh(root: Path, count: int) -> list[identity.DataDir]:
    """`count` data dirs of one mesh and facility, on one roster the first one founded."""
    dirs = [identity.init_data_dir(root / f"node-{i}", device_name=f"node-{i}")
            for i in range(count)]
    first = dirs[0]
    for data in dirs[1:]:
        shutil.copyfile(first.path / identity.MESH_KEY_FILE, data.path / identity.MESH_KEY_FILE)
        config_path = data.path / identity.CONFIG_FILE
        config = json.loads(config_path.read_text())
        config["mesh_id"] = first.identity.mesh_id
        # One clinic: the day's queue is a per-facility document, as pairing would share it.
        config["facility_id"] = first.identity.facility_id
        config["facility_name"] = first.identity.facility_name
        config_path.write_text(json.dumps(config))
    dirs = [identity.load_data_dir(d.path) for d in dirs]
    # The first device founds the roster (itself first, then every member, as pairing would);
    # the others receive that directory, as a pairing or an invite hands it over.
    roster = asyncio.run(_write_roster(first, dirs))
    for data in dirs[1:]:
        store_docs(data, {directory_id(first.identity.mesh_id): roster}, signer=first)
    return dirs


async def _open(data: identity.DataDir) -> tuple[SqlCipherStore, Documents]:
    store = SqlCipherStore(data.store_path, identity.load_store_key(data))
    await store.start()
    device = data.identity.device_id
    author = Author(device, "system", AT_MS)
    genesis = genesis_for(device)
    return store, Documents(store, author.actor, genesis=genesis, project=project,
                            attestor=Attestor(data.device_key, genesis))


async def _write_roster(data: identity.DataDir, members: list[identity.DataDir]) -> Any:
    """Write the mesh's roster into the founder's store; the directory document."""
    store, documents = await _open(data)
    author = Author(data.identity.device_id, "system", AT_MS)

    def add_all(doc: Any) -> Any:
        for member in members:
            directory.add_device(doc, member.identity.device_id, {
                "name": member.identity.device_name,
                "public_key": member.device_public_key().hex(),
            }, author)
        for device_id, key in AUTHOR_DEVICES.items():
            directory.add_device(doc, device_id, {
                "name": f"author-{device_id[:4]}", "public_key": public_bytes(key).hex(),
            }, author)
        return doc.fork(author.actor)

    try:
        return await documents.update(directory_id(data.identity.mesh_id), add_all)
    finally:
        await store.stop()


def store_docs(data: identity.DataDir, docs: dict[str, Any],
               signer: identity.DataDir | None = None) -> None:
    """Store these documents (doc id → Doc) in the data dir, as they are, signed by the
    devices their actors name (`signer`'s key for a data dir's own actors; default `data`)."""

    async def write() -> None:
        store, _ = await _open(data)
        try:
            await store.write([DocWrite(d, doc.save(), tuple(doc.heads()), project(d, doc),
                                        True, _signed(signer or data, d, doc))
                               for d, doc in docs.items()])
        finally:
            await store.stop()

    asyncio.run(write())


def _signed(data: identity.DataDir, doc_id: str, doc: Any) -> tuple[Attestation, ...]:
    """Signatures over the changes of `doc`, each by the device its actor names: one of
    AUTHOR_DEVICES, else the data dir's own device."""
    signed = []
    for actor, change in latest_by_actor(doc.history()).items():
        key = next((k for d, k in AUTHOR_DEVICES.items() if device_prefix(d) == actor[:8]),
                   data.device_key)
        signed.append(Attestor(key, genesis_for(data.identity.device_id)).attest(doc_id, change))
    return tuple(signed)


def sample_charts(count: int, author: Author, seed: int = 5) -> Iterator[tuple[str, Any]]:
    """`count` realistic charts (doc id, Doc) written by `author`: copies of 50 sample charts,
    each with its own ids (as arrival checks demand) and phone number."""
    rng = random.Random(seed)
    templates = [build_sample_chart(str(uuid.uuid4()), author, rng) for _ in range(50)]
    for i in range(count):
        doc = templates[i % len(templates)].fork(author.actor)
        patient = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        doc.change(lambda tx, p=patient: tx.update((), {"id": chart_id(p), "patient_id": p}))
        chart.update_demographics(doc, {"phone": f"+254700{i:06d}"}, author, f"seed{i}",
                                  "2025-11-22")
        yield chart_id(patient), doc


def seed_charts(data: identity.DataDir, count: int, seed: int = 5,
                keep: dict[str, Any] | None = None) -> int:
    """Store `count` realistic charts in the data dir, in one transaction; their total bytes.
    With `keep`, each stored document is also put there (doc id → Doc)."""

    async def write() -> int:
        store, _ = await _open(data)
        author = Author(data.identity.device_id, "system", AT_MS)
        writes = []
        for doc_id, doc in sample_charts(count, author, seed):
            writes.append(DocWrite(doc_id, doc.save(), tuple(doc.heads()),
                                   project(doc_id, doc), True, _signed(data, doc_id, doc)))
            if keep is not None:
                keep[doc_id] = doc
        try:
            await store.write(writes)
        finally:
            await store.stop()
        return sum(len(w.data) for w in writes)

    return asyncio.run(write())


@dataclass
class MeshdProcess:
    """A `meshd run` subprocess and how to talk to it."""

    data: identity.DataDir
    api_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def peer_address(self) -> str:
        return f"127.0.0.1:{self.peer_port}"

    def start(self, peers: list[str], extra: Sequence[str] = ()) -> MeshdProcess:
        """Start `meshd run` (with `extra` arguments) and wait (bounded) until its API answers."""
        args = [str(MESHD), "run", "--data-dir", str(self.data.path), "--api-port",
                str(self.api_port), "--peer-port", str(self.peer_port), "--no-mdns", *extra]
        for peer in peers:
            args += ["--peer", peer]
        log = (self.data.path / "test-run.log").open("a")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.close()
        wait_until_healthy(self.process, lambda: self.call("GET", "/api/v1/health")[0] == 200,
                           self.log, START_TIMEOUT_S)
        return self

    def log(self) -> str:
        return (self.data.path / "test-run.log").read_text()[-3000:]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API request; (status, JSON body or raw bytes)."""
        status, kind, raw = call_api(self.api_port, self.data.api_token, method, path, body)
        if 200 <= status < 300 and kind == "application/json":
            return status, json.loads(raw)
        return status, raw

    def sync_status(self) -> dict[str, Any]:
        status, body = self.call("GET", "/api/v1/sync/status")
        assert status == 200, body
        return dict(body)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> int | None:
        """SIGTERM and wait (bounded); SIGKILL if it hangs."""
        if self.process is None:
            return None
        return stop_process(self.process)
