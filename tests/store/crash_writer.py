"""Child process of the crash test: writes charts and prints each write once it is acknowledged.

Usage: crash_writer.py STORE_PATH KEY_HEX SEED. Prints `ack <doc id> <head hex>,...` for every
document of a write, only after `await store.write(...)` returned, then runs until killed.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import uuid
from pathlib import Path

from crdt_model.adapter import Doc
from meshd.store.base import DocWrite, Projections
from meshd.store.sqlcipher import SqlCipherStore

COMPACT_AFTER_CHUNKS = 4


def _chart(rng: random.Random) -> tuple[Doc, DocWrite]:
    patient_id = str(uuid.UUID(int=rng.getrandbits(128)))
    doc = Doc.new(os.urandom(16))
    row = {"id": patient_id, "given_name": f"Given{rng.randrange(10**6)}", "family_name": "Crash"}
    doc.change(lambda tx: tx.put((), "demographics", row))
    doc.change(lambda tx: tx.put((), "encounters", {}))
    return doc, DocWrite(
        f"chart:{patient_id}", doc.save(), tuple(doc.heads()), Projections(patient=row), True
    )


def _note(doc: Doc, doc_id: str, rng: random.Random) -> DocWrite:
    before = doc.heads()
    text = "note " + "x" * rng.randrange(10, 3000)
    doc.change(lambda tx: tx.put(("encounters",), str(uuid.uuid4()), {"note": text}))
    return DocWrite(doc_id, doc.changes_since(before), tuple(doc.heads()))


async def main(path: Path, key: bytes, seed: int) -> None:
    rng = random.Random(seed)
    async with SqlCipherStore(path, key, compact_after=COMPACT_AFTER_CHUNKS) as store:
        charts: dict[str, Doc] = {}
        for doc_id in (await store.doc_ids("chart:"))[-5:]:
            data = await store.read(doc_id)
            assert data is not None
            charts[doc_id] = Doc.load(data, os.urandom(16))
        while True:
            writes: list[DocWrite] = []
            if charts and rng.random() < 0.6:
                for doc_id in rng.sample(sorted(charts), min(len(charts), rng.randint(1, 2))):
                    writes.append(_note(charts[doc_id], doc_id, rng))
            else:
                for _ in range(rng.randint(1, 3)):
                    doc, write = _chart(rng)
                    charts[write.doc_id] = doc
                    writes.append(write)
            await store.write(writes)
            for write in writes:
                heads = ",".join(h.hex() for h in write.heads)
                sys.stdout.write(f"ack {write.doc_id} {heads}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]), int(sys.argv[3])))
