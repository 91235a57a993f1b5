"""Exports streamed from a store: CSV line lists (one row per live visit, diagnosis, dispense
and lab result of the period) read back, FHIR --since, and options refused."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from export_clinic import FACILITY, generated_clinic, known_chart, new_facility, pid, utc

from crdt_model.adapter import Doc
from crdt_model.errors import ClinicMeshError
from crdt_model.ids import facility_id
from meshd.exports.line_lists import COLUMNS
from meshd.exports.run import ExportRequest, export_store
from meshd.store.base import DocWrite
from meshd.store.memory import MemoryStore


def _write(doc: Doc) -> DocWrite:
    data = doc.to_dict()
    return DocWrite(str(data["id"]), doc.save(), tuple(doc.heads()), snapshot=True)


async def _export(tmp_path: Path, out: Path, **options: str) -> dict[str, list[dict[str, str]]]:
    fac = new_facility()
    known = known_chart(fac)
    docs, _ = generated_clinic(12, fac)
    async with MemoryStore() as store:
        await store.write([_write(d) for d in (known.doc, *docs, fac)])
        summary = await export_store(
            store, ExportRequest("csv", out, **options), facility_doc=facility_id(FACILITY),
            local=utc,
        )
    assert summary["charts_read"] == 13 and summary["unreadable"] == 0
    if out.suffix == ".zip":
        with zipfile.ZipFile(out) as archive:
            texts = {n: archive.read(f"{n}.csv").decode() for n in COLUMNS}
    else:
        texts = {n: (out / f"{n}.csv").read_text() for n in COLUMNS}
    lists = {}
    for name, text in texts.items():
        reader = csv.DictReader(io.StringIO(text))
        assert tuple(reader.fieldnames or ()) == COLUMNS[name]
        lists[name] = list(reader)
        assert summary["rows"][name] == len(lists[name])
    return lists


@pytest.mark.asyncio
async def test_a_zip_holds_one_csv_per_kind_with_only_live_entries(tmp_path: Path) -> None:
    lists = await _export(tmp_path, tmp_path / "lists.zip", period="202611")
    known = [r for r in lists["diagnoses"] if r["patient_id"] == pid(0)]
    # The corrected diagnosis is listed once (the correction), the voided one not at all.
    assert [(r["code"], r["corrects"]) for r in known] == [("B50.9", "e-diagnosis")]
    assert {r["day"][:7] for name in COLUMNS for r in lists[name]} == {"2026-11"}
    visit = next(r for r in lists["visits"] if r["patient_id"] == known[0]["patient_id"])
    assert visit["visit"] == "new" and visit["diagnosis_codes"] == "B50.9"
    assert visit["stations"] == "registration;triage;consultation;lab;pharmacy"
    dispense = next(r for r in lists["dispenses"] if r["patient_id"] == known[0]["patient_id"])
    assert (dispense["drug_id"], dispense["quantity"], dispense["dose_unit"]) == (
        "al-20-120", "24", "tablet")
    (result,) = lists["lab_results"]
    assert (result["test"], result["value"], result["interpretation"]) == (
        "Malaria RDT", "positive", "positive")
    assert "Amina" not in "".join(str(r) for name in COLUMNS for r in lists[name])


@pytest.mark.asyncio
async def test_a_folder_export_and_since_keep_the_later_rows(tmp_path: Path) -> None:
    everything = await _export(tmp_path, tmp_path / "all")
    later = await _export(tmp_path, tmp_path / "later", since="2026-11-10")
    assert any(r["day"] < "2026-11-01" for r in everything["visits"])  # October visits too
    assert later["visits"] == [r for r in everything["visits"] if r["day"] >= "2026-11-10"]


@pytest.mark.asyncio
async def test_options_that_do_not_fit_the_format_are_refused(tmp_path: Path) -> None:
    async with MemoryStore() as store:
        for request, field in (
            (ExportRequest("fhir", tmp_path / "b.json", period="202611"), "period"),
            (ExportRequest("dhis2", tmp_path / "d.json", period="202611"), "mapping"),
            (ExportRequest("csv", tmp_path / "c.zip", mapping=tmp_path / "m.json"), "mapping"),
            (ExportRequest("xml", tmp_path / "x.xml"), "format"),
            (ExportRequest("fhir", tmp_path / "b.json", patient=pid(5)), "patient"),
        ):
            with pytest.raises(ClinicMeshError) as caught:
                await export_store(store, request, facility_doc=facility_id(FACILITY))
            assert caught.value.field == field
    assert os.listdir(tmp_path) == []  # nothing half-written is left behind


@pytest.mark.asyncio
async def test_a_fhir_export_since_a_day_holds_the_charts_written_since(tmp_path: Path) -> None:
    fac = new_facility()
    known = known_chart(fac)  # written on 5 November
    docs, _ = generated_clinic(4, fac)  # last written 29, 2, 3 and 4 November
    out = tmp_path / "since.json"
    async with MemoryStore() as store:
        await store.write([_write(d) for d in (known.doc, *docs)])
        summary = await export_store(store, ExportRequest("fhir", out, since="2026-11-03"),
                                     facility_doc=facility_id(FACILITY), local=utc)
    assert (summary["charts_read"], summary["charts_exported"]) == (5, 4)
    patients = {e["fullUrl"] for e in json.loads(out.read_text())["entry"]
                if e["resource"]["resourceType"] == "Patient"}
    assert f"urn:uuid:{pid(1001)}" not in patients and len(patients) == 4


@pytest.mark.asyncio
async def test_a_chart_that_does_not_load_is_counted_and_skipped(tmp_path: Path) -> None:
    fac = new_facility()
    docs, _ = generated_clinic(3, fac)
    broken = DocWrite(f"chart:{pid(99)}", b"not an automerge document", (), snapshot=True)
    async with MemoryStore() as store:
        await store.write([_write(d) for d in docs] + [broken])
        summary = await export_store(store, ExportRequest("fhir", tmp_path / "b.json"),
                                     facility_doc=facility_id(FACILITY), local=utc)
    assert (summary["charts_read"], summary["unreadable"]) == (3, 1)
    assert len(json.loads((tmp_path / "b.json").read_text())["entry"]) > 3
