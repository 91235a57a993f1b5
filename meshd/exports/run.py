"""`meshd export`: open a data dir's store (the node may be running or not), stream its charts
through one converter and write the file. The I/O shell of meshd.exports: every decision about
what a chart says lives in the pure modules.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from crdt_model.adapter import Doc
from crdt_model.errors import ValidationError
from crdt_model.ids import check_day, check_uuid, facility_id
from meshd.exports import fhir, line_lists
from meshd.exports.chart_read import Local, last_written
from meshd.exports.dhis2 import Dhis2Tally
from meshd.exports.dhis2_mapping import parse_mapping
from meshd.exports.periods import period_days
from meshd.exports.stream import Progress, StreamCount, charts
from meshd.identity import CONFIG_FILE, STORE_FILE, is_initialised
from meshd.store import keys
from meshd.store.base import Store
from meshd.store.sqlcipher import SqlCipherStore

FORMATS = ("fhir", "dhis2", "dhis2-csv", "csv")
ALL_DAYS = ("0001-01-01", "9999-12-31")
PROGRESS_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export: the format, where to, and which charts or period."""

    format: str
    out: Path
    since: str | None = None
    period: str | None = None
    mapping: Path | None = None
    patient: str | None = None


def local_time(at_ms: int) -> datetime:
    """The device's local time of an instant (the clinic's clock, with its DST rules)."""
    return datetime.fromtimestamp(at_ms / 1000).astimezone()


def _days(request: ExportRequest) -> tuple[str, str]:
    if request.period is not None:
        return period_days(request.period)
    return (request.since, ALL_DAYS[1]) if request.since else ALL_DAYS


def check_request(request: ExportRequest) -> None:
    """ValidationError naming the option when the request can't be carried out."""
    if request.format not in FORMATS:
        raise ValidationError(f"--format must be one of: {', '.join(FORMATS)}", field="format")
    if request.since is not None:
        check_day(request.since, "since")
    if request.patient is not None:
        check_uuid(request.patient, "patient")
    if request.format.startswith("dhis2"):
        if request.period is None or request.mapping is None:
            raise ValidationError("DHIS2 exports need --period (e.g. 202611) and --mapping FILE",
                                  field="period" if request.period is None else "mapping")
        if request.since is not None:
            raise ValidationError("a DHIS2 export covers its --period: leave out --since",
                                  field="since")
    elif request.mapping is not None:
        raise ValidationError("--mapping is for DHIS2 exports only", field="mapping")
    if request.format == "fhir" and request.period is not None:
        raise ValidationError("a FHIR export takes --since DAY, not --period", field="period")
    if request.format == "csv" and request.period is not None and request.since is not None:
        raise ValidationError("give --period or --since, not both", field="since")
    if request.period is not None:
        period_days(request.period)


def _beside(out: Path) -> Path:
    """A hidden temporary path beside `out` (its folder created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.with_name(f".{out.name}.part")


@contextlib.contextmanager
def _replacing(out: Path) -> Iterator[Path]:
    """A path to write; renamed over `out` when the block succeeds, removed when it fails."""
    part = _beside(out)
    try:
        yield part
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out)


async def _fhir(store: Store, request: ExportRequest, local: Local, count: StreamCount,
                progress: Progress | None) -> dict[str, Any]:
    written, first = 0, True
    with _replacing(request.out) as part, part.open("w", encoding="utf-8") as out:
        out.write(fhir.BUNDLE_HEAD)
        async for chart in charts(store, local, count, patient=request.patient,
                                  progress=progress):
            if request.since and chart.day(last_written(chart.root)) < request.since:
                continue
            text = fhir.chart_entries_json(chart)
            out.write(text if first else fhir.ENTRY_SEPARATOR + text)
            first = False
            written += 1
        out.write(fhir.BUNDLE_TAIL)
    return {"charts_exported": written}


def _mapping(path: Path) -> Any:
    try:
        return parse_mapping(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"can't read the mapping {path}: {exc}", field="mapping") from None


async def _dhis2(store: Store, request: ExportRequest, local: Local, count: StreamCount,
                 progress: Progress | None, facility_doc: str) -> dict[str, Any]:
    assert request.period is not None and request.mapping is not None
    tally = Dhis2Tally(_mapping(request.mapping), request.period, *_days(request))
    async for chart in charts(store, local, count, patient=request.patient, progress=progress):
        tally.add_chart(chart)
    facility = await store.read(facility_doc)
    if facility is not None:
        tally.add_facility(Doc.load(facility).to_dict(), local)
    with _replacing(request.out) as part, part.open("w", encoding="utf-8", newline="") as out:
        if request.format == "dhis2":
            json.dump(tally.data_value_set(), out, indent=1)
            out.write("\n")
        else:
            csv.writer(out).writerows(tally.csv_rows())
    return {"data_values": len(tally.data_values()), "unmapped": dict(tally.unmapped)}


async def _csv(store: Store, request: ExportRequest, local: Local, count: StreamCount,
               progress: Progress | None) -> dict[str, Any]:
    first, last = _days(request)
    zipped = request.out.suffix.lower() == ".zip"
    folder = Path(tempfile.mkdtemp(prefix=".export-", dir=_beside(request.out).parent))
    rows = dict.fromkeys(line_lists.COLUMNS, 0)
    files: dict[str, IO[str]] = {}
    try:
        writers = {}
        for name, header in line_lists.COLUMNS.items():
            files[name] = (folder / f"{name}.csv").open("w", encoding="utf-8", newline="")
            writers[name] = csv.writer(files[name])
            writers[name].writerow(header)
        async for chart in charts(store, local, count, patient=request.patient,
                                  progress=progress):
            for name, writer in writers.items():
                for row in line_lists.chart_rows(chart, name, first, last):
                    writer.writerow(row)
                    rows[name] += 1
        for file in files.values():
            file.close()
        _publish(folder, request.out, zipped)
    finally:
        for file in files.values():
            file.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {"rows": rows}


def _publish(folder: Path, out: Path, zipped: bool) -> None:
    if zipped:
        with _replacing(out) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in line_lists.COLUMNS:
                archive.write(folder / f"{name}.csv", f"{name}.csv")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in line_lists.COLUMNS:
        os.replace(folder / f"{name}.csv", out / f"{name}.csv")


async def export_store(
    store: Store, request: ExportRequest, *, facility_doc: str, local: Local = local_time,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write the export `request` asks for from an open store; a summary of what was written."""
    check_request(request)
    began, count = time.monotonic(), StreamCount()
    if request.format == "fhir":
        summary = await _fhir(store, request, local, count, progress)
    elif request.format == "csv":
        summary = await _csv(store, request, local, count, progress)
    else:
        summary = await _dhis2(store, request, local, count, progress, facility_doc)
    return {
        "format": request.format, "out": str(request.out), "charts_read": count.read,
        "unreadable": count.unreadable, **summary,
        "seconds": round(time.monotonic() - began, 1),
    }


def _facility_doc(data_dir: Path) -> str:
    # node.json alone: an export needs no device or mesh secret, so none is unsealed for it.
    if not is_initialised(data_dir):
        raise ValidationError(f"no clinicmesh data dir at {data_dir}", field="data_dir")
    try:
        config = json.loads((data_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        return facility_id(config["facility_id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"{data_dir / CONFIG_FILE} is damaged: {exc}",
                              field="data_dir") from None


async def export_data_dir(
    data_dir: Path, request: ExportRequest, passphrase: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Open the store of `data_dir` beside any running node (as `meshd status` does), export."""
    check_request(request)
    facility_doc = _facility_doc(data_dir)
    key = keys.load_key(data_dir, passphrase)
    async with SqlCipherStore(data_dir / STORE_FILE, key, create=False) as store:
        return await export_store(store, request, facility_doc=facility_doc, progress=progress)


def stderr_progress(write: Callable[[str], None]) -> Progress:
    """A progress callback that writes `done/total charts` at most once a second."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done >= total:
            last[0] = now
            write(f"exported {done}/{total} charts")

    return report
