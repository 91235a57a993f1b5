"""Service factories for `scripts/bench/ui`: the daemon's UI service over the 50,000-chart store
(`service`), or over an empty in-memory store (`memory_service`, the default of ui_bench.py).

Usage: .venv/bin/python scripts/bench/ui_bench.py --factory scripts.bench.ui_real:service
       --populate 200 --seen 200

The store that `scripts/bench/store` caches (schema v1, search rows only) is copied once and
upgraded: the copy is migrated to the current schema and every chart reprojected (worklists,
visits), which is kept as a master. Each run then works on a fresh copy of that master, so the
patients the benchmark registers never pile up. Set CLINICMESH_BENCH_CHARTS for another size.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from crdt_model.adapter import actor_for
from meshd.clinic import Clinic, genesis_for, project
from meshd.clinic_ui.service import NodeClinicService
from meshd.docs import Documents
from meshd.identity import Identity
from meshd.store import keys
from meshd.store.memory import MemoryStore
from meshd.store.sqlcipher import SqlCipherStore

CHARTS = int(os.environ.get("CLINICMESH_BENCH_CHARTS", "50000"))
TMP = Path(tempfile.gettempdir())
SOURCE = TMP / f"clinicmesh-bench-store-{CHARTS}"
MASTER = TMP / f"clinicmesh-ui-bench-master-{CHARTS}"
RUN = TMP / f"clinicmesh-ui-bench-run-{CHARTS}"
IDENTITY = Identity(
    device_id="b0b0b0b0-0000-4000-8000-000000000001", device_name="bench-desk",
    mesh_id="b0b0b0b0-0000-4000-8000-000000000002", facility_id="bench-clinic",
    facility_name="Bench Clinic",
)


def _copy(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("store.db", "store.key"):
        shutil.copy2(source / name, target / name)


async def _open(path: Path) -> tuple[SqlCipherStore, Documents]:
    store = SqlCipherStore(path / "store.db", keys.load_key(path))
    await store.start()
    documents = Documents(
        store, actor_for(IDENTITY.device_id, "system"), genesis=genesis_for(IDENTITY.device_id),
        project=project,
    )
    return store, documents


async def _make_master() -> None:
    if not (SOURCE / "store.db").exists():
        raise SystemExit(f"no {SOURCE}: run scripts/bench/store --charts {CHARTS} first")
    print(f"upgrading a copy of {SOURCE} (migration + reprojection, once)")
    _copy(SOURCE, MASTER)
    started = time.perf_counter()
    store, documents = await _open(MASTER)
    try:
        done = await documents.reproject_due(batch=200)
    finally:
        await store.stop()
    print(f"reprojected {done} charts in {time.perf_counter() - started:.1f} s")
    (MASTER / "done").write_text(str(done))


async def service() -> NodeClinicService:
    """The UI service over a fresh copy of the upgraded 50,000-chart store."""
    if not (MASTER / "done").exists():
        await _make_master()
    _copy(MASTER, RUN)
    _store, documents = await _open(RUN)
    return NodeClinicService(Clinic(documents, documents.store, IDENTITY))


async def memory_service() -> NodeClinicService:
    """The UI service over the real clinic core on an empty in-memory store (quick runs)."""
    store = MemoryStore()
    await store.start()
    documents = Documents(
        store, actor_for(IDENTITY.device_id, "system"), genesis=genesis_for(IDENTITY.device_id),
        project=project,
    )
    return NodeClinicService(Clinic(documents, documents.store, IDENTITY))
