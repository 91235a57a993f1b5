"""Two relay processes on one real PostgreSQL serve the same clinic: what one accepts reaches
a device linked to the other, and one can be SIGKILLed mid-sync with nothing it acknowledged
lost (the device relinks to the survivor). Also: the database holds no patient data in clear.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess, relay_state, texts
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow

PATIENT = {"given_name": "Achieng", "family_name": "Otieno", "sex": "female",
           "birth_date": "1990-06-02", "village": "Rongo"}
ORDERS = 40
KILL_AFTER_S = 2.0


def _credential_for(source: Path, relay: RelayProcess, out: Path) -> Path:
    """The same clinic credential, naming another relay process's address."""
    written = json.loads(source.read_text())
    written["url"] = f"https://127.0.0.1:{relay.port}"
    out.write_text(json.dumps(written))
    return out


def _link(node: MeshdProcess, credential: Path) -> None:
    done = meshd("relay-link", "--data-dir", str(node.data.path), str(credential))
    assert done.returncode == 0, done.stderr


def test_two_relay_processes_share_a_clinic_and_one_is_killed_mid_sync(
    tmp_path: Path, started: list[Any], postgres: Any
) -> None:
    db = postgres.new_database()
    first = RelayProcess(tmp_path, db=db, name="relay1").start()
    started.append(first)
    second = RelayProcess(tmp_path, db=db, name="relay2").start()  # same data dir, same keys
    started.append(second)
    out = tmp_path / "clinic.credential"
    done = meshd("relay", "add-clinic", "--data-dir", str(first.data_dir), "Clinic A",
                 "--out", str(out), "--url", f"https://127.0.0.1:{first.port}")
    assert done.returncode == 0, done.stderr
    to_second = _credential_for(out, second, tmp_path / "second.credential")

    (data,) = make_mesh(tmp_path / "clinic", 1)
    node = MeshdProcess(data).start([])
    started.append(node)
    status, body = node.call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, body
    patient = str(body["id"])
    orders = []
    for _ in range(ORDERS):
        status, body = node.call("POST", f"/api/v1/patients/{patient}/lab-orders",
                                 {"test": "Malaria RDT"})
        assert status == 201, body
        orders.append(str(body["id"]))
    _link(node, out)
    eventually(lambda: relay_state(node) == "connected", 30, "linked to relay process 1")
    lab = first.add_service("District lab", "Clinic A")

    def post(relay: RelayProcess, order: str, value: str) -> int:
        try:
            return relay.call("POST", f"/relay/v1/patients/{patient}/lab-results", lab,
                              {"order_id": order, "value": value})[0]
        except OSError:
            return 0  # the relay is gone

    eventually(lambda: post(first, orders[0], "result 0") == 201, 30, "the chart at relay 1")
    acknowledged, registered = ["result 0"], []
    stop = threading.Event()

    def keep_registering() -> None:  # the device keeps pushing while relay 1 dies
        while not stop.is_set() and len(registered) < 400:
            status, body = node.call("POST", "/api/v1/patients", {
                **PATIENT, "given_name": f"Walk-in {len(registered)}"})
            assert status == 201, body
            registered.append(str(body["id"]))

    def keep_posting() -> None:  # the lab's results, each acknowledged (201) by relay 1
        for i, order in enumerate(orders[1:], start=1):
            if stop.is_set() or post(first, order, f"result {i}") != 201:
                return
            acknowledged.append(f"result {i}")

    workers = [threading.Thread(target=keep_registering), threading.Thread(target=keep_posting)]
    for worker in workers:
        worker.start()
    time.sleep(KILL_AFTER_S)
    first.kill()  # SIGKILL mid-sync: charts in flight, lab results being posted
    time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    print(f"relay 1 killed after {len(acknowledged)} lab results acknowledged and "
          f"{len(registered)} charts registered on the device")
    assert registered and len(acknowledged) > 1

    _link(node, to_second)  # the device turns to the survivor
    eventually(lambda: relay_state(node) == "connected", 30, "linked to relay process 2")

    def chart_text() -> list[str]:
        status, body = node.call("GET", f"/api/v1/patients/{patient}")
        assert status == 200, body
        return texts(body)

    eventually(lambda: set(acknowledged) <= set(chart_text()), 30,
               "every lab result relay 1 acknowledged, on the device through relay 2")
    total = len(registered) + 1
    eventually(lambda: second.clinic("Clinic A")["charts"] == total, 60,
               f"all {total} charts of the device held by the relay")

    # A change accepted by another relay process reaches the device linked to relay 2 in < 5 s.
    third = RelayProcess(tmp_path, db=db, name="relay3").start()
    started.append(third)
    status, body = node.call("POST", f"/api/v1/patients/{patient}/lab-orders",
                             {"test": "Haemoglobin"})
    assert status == 201, body
    late = str(body["id"])
    eventually(lambda: post(third, late, "late result") == 201, 30, "relay 3 has the order")
    sent = time.monotonic()
    eventually(lambda: "late result" in chart_text(), 5,
               "relay 3's lab result on the device linked to relay 2 within 5 s")
    print(f"relay 3's lab result on the device {time.monotonic() - sent:.2f} s later")

    # Nothing clinical in clear in the database: no name, village or result text.
    dump = postgres.psql(db, "SELECT encode(sealed, 'escape') FROM store_writes")
    dump += postgres.psql(db, "SELECT detail FROM audit")
    dump += postgres.psql(db, "SELECT secret FROM clinics")
    assert json.loads(out.read_text())["secret"] not in dump
    for text in ("Achieng", "Otieno", "Rongo", "result 0", "late result"):
        assert text not in dump
