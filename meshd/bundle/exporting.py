"""`meshd bundle export`: the documents changed since a day, or since the last bundle for a
named destination, written as one bundle file (meshd.bundle.format).

Which documents: Automerge changes carry no usable time in this binding (every change's
timestamp is 0, DESIGN §7), so the rule is the store's: every document this device wrote on or
after the start (device local time) of `--since DAY`, whether the change was made here or
received from a peer, goes in whole (its stored snapshot and chunks). With `--to NAME` the
start is the time of the last bundle made for NAME (everything the first time), recorded in
DATA_DIR/bundle-marks.json once the file is complete. Whole documents make a bundle importable
on any device of the mesh whatever it already holds; importing merges, so overlap is harmless.
The store is opened beside a running node, as `meshd export` does, and paged by doc id. Each
chart is followed by the bytes of its live attachments (once per bundle, up to the bundle's
bound; docs/bundles.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.attachments import chart_attachments
from crdt_model.errors import CorruptDocument, ValidationError
from crdt_model.ids import CHART, check_day
from meshd import attest
from meshd.attest import SIGNATURES
from meshd.bundle.format import (
    MAX_BUNDLE_BLOB_BYTES,
    MAX_DOC_BYTES,
    BundleHeader,
    BundleWriter,
    bundle_key,
    new_salt,
)
from meshd.identity import load_data_dir
from meshd.secret_files import write_file
from meshd.store import keys
from meshd.store.sqlcipher import SqlCipherStore

CHART_PREFIX = f"{CHART}:"
MARKS_FILE = "bundle-marks.json"
MARKS_VERSION = 1
PAGE_DOCS = 200
# A write stamped just before a bundle starts may commit after its page was read: the next
# bundle for the same destination starts this much earlier (a repeated document merges as a no-op).
MARK_MARGIN_MS = 60_000
MAX_DESTINATION_CHARS = 64
Progress = Callable[[int], None]


def day_start_ms(day: str) -> int:
    """00:00 of `day` (YYYY-MM-DD) on this device's clock, in epoch ms."""
    start = datetime.combine(date.fromisoformat(check_day(day, "since")), datetime.min.time())
    return int(start.astimezone().timestamp() * 1000)


def read_marks(data_dir: Path) -> dict[str, int]:
    """Destination name -> epoch ms its last bundle was started at ({} when none)."""
    try:
        record: Any = json.loads((data_dir / MARKS_FILE).read_text(encoding="utf-8"))
        marks = record["destinations"] if record.get("version") == MARKS_VERSION else {}
        return {str(k): int(v) for k, v in marks.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ValidationError(f"{data_dir / MARKS_FILE} is damaged: remove it and give --since",
                              field="to") from None


def _save_mark(data_dir: Path, name: str, started_ms: int) -> None:
    marks = {**read_marks(data_dir), name: started_ms}
    record = {"version": MARKS_VERSION, "destinations": marks}
    part = data_dir / (MARKS_FILE + ".part")
    part.unlink(missing_ok=True)  # left by an interrupted save
    write_file(part, (json.dumps(record, indent=1) + "\n").encode(), 0o600)
    os.replace(part, data_dir / MARKS_FILE)


def _since_ms(data_dir: Path, since: str | None, to: str | None) -> int:
    if to is not None and not 0 < len(to) <= MAX_DESTINATION_CHARS:
        raise ValidationError("name the destination in 1–64 characters", field="to")
    if since is not None:
        return day_start_ms(since)
    if to is None:
        raise ValidationError("give --since DAY, or --to NAME for the changes since the last "
                              "bundle for NAME", field="since")
    last = read_marks(data_dir).get(to)
    return 0 if last is None else max(0, last - MARK_MARGIN_MS)


async def export_bundle(
    data_dir: Path, out: Path, *, since: str | None = None, to: str | None = None,
    passphrase: str | None = None, progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the bundle to `out` (whole or not at all); a summary of what went in."""
    since_ms = _since_ms(data_dir, since, to)
    data = load_data_dir(data_dir, passphrase)
    started_ms = time.time_ns() // 1_000_000
    header = BundleHeader(
        mesh=data.identity.mesh_id, device=data.identity.device_id,
        device_name=data.identity.device_name, epoch=data.mesh_epoch, created_ms=started_ms,
        since_ms=since_ms, salt=new_salt(), to=to,
    )
    store_key = keys.load_key(data_dir, passphrase)
    part = out.with_name(out.name + ".part")
    skipped: list[str] = []
    sent: set[str] = set()
    missing: list[str] = []
    try:
        with part.open("wb") as file:
            writer = BundleWriter(file, header, bundle_key(data.mesh_key, header),
                                  data.device_key)
            async with SqlCipherStore(data.store_path, store_key, create=False) as store:
                after, exported = "", 0
                while page := await store.changed_since(since_ms, after, PAGE_DOCS):
                    found = await store.read_many(page)
                    signed = await store.attestations(page)
                    for doc_id in page:
                        if doc_id not in found:
                            continue
                        if len(found[doc_id]) > MAX_DOC_BYTES:  # no device would take it
                            skipped.append(doc_id)
                            continue
                        if doc_id in signed:  # the signatures go just before their document
                            writer.add(SIGNATURES + doc_id, attest.pack(signed[doc_id]))
                        writer.add(doc_id, found[doc_id])
                        exported += 1
                        if doc_id.startswith(CHART_PREFIX):
                            await _add_attachments(store, writer, found[doc_id], sent, missing)
                    after = page[-1]
                    del found
                    if progress is not None:
                        progress(exported)
            writer.finish()
            size = file.tell()
            file.flush()
            os.fsync(file.fileno())
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ValidationError(f"can't write {out}: {exc.strerror or exc}", field="file") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if to is not None:
        _save_mark(data_dir, to, started_ms)
    return {"bundle": str(out), "documents": exported, "bytes": size,
            "mesh": header.mesh, "device": header.device, "epoch": header.epoch,
            "since_ms": since_ms, "to": to, "skipped_too_large": skipped,
            "attachments": len(sent), "attachment_bytes": writer.blob_bytes,
            "attachments_left_out": missing}


async def _add_attachments(store: SqlCipherStore, writer: BundleWriter, chart: bytes,
                           sent: set[str], missing: list[str]) -> None:
    """The bytes of the chart's live attachments, after it, each once per bundle; one this
    device lacks, or past the bundle's bound, is left out (listed) and reaches the other
    devices over sync."""
    try:
        references = chart_attachments(await asyncio.to_thread(Doc.load, chart))
    except CorruptDocument:
        return
    for reference in references:
        sha256 = str(reference["sha256"])
        if sha256 in sent:
            continue
        found = await store.read_blob(sha256)
        if found is None or writer.blob_bytes + len(found[0]) > MAX_BUNDLE_BLOB_BYTES:
            missing.append(sha256)
            continue
        writer.add_blob(sha256, found[1], found[0])
        sent.add(sha256)
