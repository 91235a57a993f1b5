"""What `meshd status` reports about a device's store: document counts and integrity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crdt_model.ids import CHART, FACILITY, QUEUE
from meshd.identity import STORE_FILE
from meshd.store import keys
from meshd.store.sqlcipher import SqlCipherStore


async def store_summary(
    data_dir: Path, passphrase: str | None = None, *, check: bool = False
) -> dict[str, Any]:
    """{"counts": {charts, facilities, ...}, "integrity": "ok" | [problems] | "not checked"}.

    The integrity check reads every page and loads every document (seconds for 50,000
    charts), so it runs only when asked.
    """
    store_path = data_dir / STORE_FILE
    if not store_path.exists():
        return {"counts": {"charts": 0, "documents": 0}, "integrity": "empty"}
    key = keys.load_key(data_dir, passphrase)
    # SQLite lets this second connection read while a running node writes (one writer at a time).
    async with SqlCipherStore(store_path, key, create=False) as store:
        counts = {
            "charts": await store.count(f"{CHART}:"),
            "facilities": await store.count(f"{FACILITY}:"),
            "queues": await store.count(f"{QUEUE}:"),
            "documents": await store.count(),
        }
        if not check:
            return {"counts": counts, "integrity": "not checked"}
        problems = await store.integrity_check()
    return {"counts": counts, "integrity": problems or "ok"}
