"""`meshd export` as a real process on a data dir whose node is not running."""

from __future__ import annotations

import asyncio
import csv
import json
import zipfile
from pathlib import Path

from export_clinic import generated_clinic, known_chart, new_facility, pid
from fhir.resources.R4B.bundle import Bundle
from meshd_procs import meshd

from crdt_model.adapter import Doc
from crdt_model.ids import facility_id
from meshd.store import keys
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore

MAPPING = Path(__file__).resolve().parents[2] / "docs" / "dhis2-mapping.example.json"
PASSPHRASE = "export test passphrase"


def _clinic_on_disk(tmp_path: Path) -> tuple[Path, Path]:
    data_dir, secret = tmp_path / "desk", tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    made = meshd("init", "--data-dir", str(data_dir), "--name", "desk", "--passphrase-file",
                 str(secret))
    assert made.returncode == 0, made.stderr
    config = json.loads((data_dir / "node.json").read_text())
    fac = new_facility()
    docs = [known_chart(fac).doc, *generated_clinic(10, fac)[0]]
    # The facility of the test clinic, stored under this data dir's facility id.
    facility_doc = Doc.load(fac.save())

    async def write() -> None:
        key = keys.load_key(data_dir, PASSPHRASE)
        async with SqlCipherStore(data_dir / "store.db", key) as store:
            writes = [DocWrite(str(d.to_dict()["id"]), d.save(), tuple(d.heads()), snapshot=True)
                      for d in docs]
            writes.append(DocWrite(facility_id(config["facility_id"]), facility_doc.save(),
                                   tuple(facility_doc.heads()), snapshot=True))
            await store.write(writes)

    asyncio.run(write())
    return data_dir, secret


def test_export_writes_each_format_from_a_stopped_node(tmp_path: Path) -> None:
    data_dir, secret = _clinic_on_disk(tmp_path)
    common = ("--data-dir", str(data_dir), "--passphrase-file", str(secret))

    fhir_out = tmp_path / "out" / "bundle.json"
    done = meshd("export", "--format", "fhir", "--out", str(fhir_out), *common)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["charts_read"] == 11 and summary["charts_exported"] == 11
    assert "exported 11/11 charts" in done.stderr  # progress goes to stderr
    bundle = json.loads(fhir_out.read_text())
    Bundle.model_validate(bundle)
    assert f"urn:uuid:{pid(0)}" in {e["fullUrl"] for e in bundle["entry"]}

    one = meshd("export", "--format", "fhir", "--patient", pid(0), "--out",
                str(tmp_path / "one.json"), *common)
    assert one.returncode == 0, one.stderr
    patients = [e for e in json.loads((tmp_path / "one.json").read_text())["entry"]
                if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1

    dhis2_out = tmp_path / "nov.json"
    done = meshd("export", "--format", "dhis2", "--period", "202611", "--mapping", str(MAPPING),
                 "--out", str(dhis2_out), *common)
    assert done.returncode == 0, done.stderr
    values = json.loads(dhis2_out.read_text())["dataValues"]
    stock = {v["dataElement"]: v["value"] for v in values if v["dataElement"].startswith("DeAl")}
    # 600 received, 24 given to the known chart, 6 to each of two generated charts (0 and 8).
    assert stock == {"DeAlStockOh": str(600 - 24 - 12), "DeAlConsume": "36",
                     "DeAlReceive": "100"}

    csv_out = tmp_path / "nov.csv"
    done = meshd("export", "--format", "dhis2-csv", "--period", "202611", "--mapping",
                 str(MAPPING), "--out", str(csv_out), *common)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(csv_out.read_text().splitlines()))
    assert rows[0][:6] == ["dataelement", "period", "orgunit", "catoptcombo", "attroptcombo",
                           "value"]
    assert len(rows) == len(values) + 1

    lists = tmp_path / "lists.zip"
    done = meshd("export", "--format", "csv", "--period", "202611", "--out", str(lists), *common)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(lists) as archive:
        assert sorted(archive.namelist()) == [
            "diagnoses.csv", "dispenses.csv", "lab_results.csv", "visits.csv"]


def test_export_refuses_clearly_and_writes_nothing(tmp_path: Path) -> None:
    data_dir, secret = _clinic_on_disk(tmp_path)
    out = tmp_path / "nov.json"
    no_mapping = meshd("export", "--format", "dhis2", "--period", "202611", "--out", str(out),
                       "--data-dir", str(data_dir), "--passphrase-file", str(secret))
    assert no_mapping.returncode == 1 and "--mapping" in no_mapping.stderr
    wrong_key = meshd("export", "--format", "fhir", "--out", str(out), "--data-dir",
                      str(data_dir))
    assert wrong_key.returncode == 1 and wrong_key.stderr.startswith("meshd: ")
    assert not out.exists()
