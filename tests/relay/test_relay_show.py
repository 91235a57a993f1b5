"""The relay's Show: a relay and two clinic meshes of two nodes each, real processes on
loopback. A patient registered in clinic A is found from clinic B through the relay, pulled,
edited in B, and the edit reaches every device of clinic A."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess, audit_of, relay_state, texts
from sync_procs import MeshdProcess, make_mesh

pytestmark = pytest.mark.slow

PATIENT = {"given_name": "Wanjiru", "family_name": "Kamau", "sex": "female",
           "birth_date": "1987-03-14", "village": "Kisoro"}





def _chart_has(node: MeshdProcess, patient: str, text: str) -> bool:
    status, body = node.call("GET", f"/api/v1/patients/{patient}")
    return status == 200 and text in texts(body)


def _clinic(root: Path, name: str, relay: RelayProcess, started: list[Any]
            ) -> list[MeshdProcess]:
    """Two nodes of one mesh, peered on loopback, the first linked to the relay while running."""
    first_dir, second_dir = make_mesh(root / name, 2)
    first = MeshdProcess(first_dir).start([])
    started.append(first)
    second = MeshdProcess(second_dir).start([first.peer_address])
    started.append(second)
    credential = relay.add_clinic(name)
    linked = meshd("relay-link", "--data-dir", str(first_dir.path), str(credential))
    assert linked.returncode == 0, linked.stderr
    return [first, second]


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_a_chart_follows_its_patient_from_clinic_a_to_clinic_b_and_back(
    tmp_path: Path, started: list[Any], request: pytest.FixtureRequest, storage: str
) -> None:
    db = request.getfixturevalue("postgres").new_database() if storage == "postgresql" else None
    relay = RelayProcess(tmp_path, db=db).start()
    started.append(relay)
    clinic_a = _clinic(tmp_path, "Clinic A", relay, started)
    clinic_b = _clinic(tmp_path, "Clinic B", relay, started)
    # The credential reached the second device of each clinic through its mesh: all link.
    for node in clinic_a + clinic_b:
        eventually(lambda n=node: relay_state(n) == "connected", 30, "relay link")

    status, body = clinic_a[0].call("POST", "/api/v1/patients", PATIENT)
    assert status == 201, body
    patient = str(body["id"])

    def found_from_b(query: str = "Wanjiru") -> list[dict[str, Any]]:
        status, body = clinic_b[1].call("GET", f"/api/v1/relay/patients?q={query}")
        assert status == 200, body
        return [r for r in body["results"] if r["id"] == patient]

    results = eventually(found_from_b, 30, "the patient found through the relay")
    assert found_from_b("Wanjiro%20Kamau"), "a misspelt name finds her too"
    assert found_from_b(patient), "so does the id on her patient card's QR code"
    assert found_from_b("Kamau%20Kisoro"), "and her family name with her village"
    assert results[0]["clinic"] == "Clinic A"
    assert results[0]["village"] == "Kisoro" and results[0]["birth_date"] == "1987-03-14"

    status, body = clinic_b[1].call("POST", f"/api/v1/relay/patients/{patient}/pull")
    assert status == 200, body
    eventually(lambda: clinic_b[0].call("GET", f"/api/v1/patients/{patient}")[0] == 200, 30,
               "the pulled chart on every device of clinic B")
    # The pull is audited in the clinic the chart came from, on each of its devices: the
    # relay wrote a disclosure into the chart there, and each device audits it on arrival.
    for node in clinic_a:
        rows = eventually(lambda n=node: audit_of(n, "relay_pulled_by"), 30,
                          "the pull audited on every device of clinic A")
        assert "by Clinic B" in rows[0].detail, rows

    status, body = clinic_b[0].call("POST", f"/api/v1/patients/{patient}/notes",
                                    {"text": "seen in clinic B for malaria"})
    assert status == 201, body
    for node in clinic_a:
        eventually(lambda n=node: _chart_has(n, patient, "seen in clinic B for malaria"), 30,
                   "clinic B's edit on every device of clinic A")

    # And back: clinic A's next edit reaches clinic B.
    status, body = clinic_a[1].call("POST", f"/api/v1/patients/{patient}/notes",
                                    {"text": "follow-up in clinic A"})
    assert status == 201, body
    for node in clinic_b:
        eventually(lambda n=node: _chart_has(n, patient, "follow-up in clinic A"), 30,
                   "clinic A's edit on every device of clinic B")

    # A district lab posts a result through the relay: it reaches clinic A's devices in < 5 s.
    status, body = clinic_a[0].call("POST", f"/api/v1/patients/{patient}/lab-orders",
                                    {"test": "Malaria RDT"})
    assert status == 201, body
    order = str(body["id"])
    lab = relay.add_service("District lab", "Clinic A")

    def posted() -> bool:
        status, body = relay.call("POST", f"/relay/v1/patients/{patient}/lab-results", lab,
                                  {"order_id": order, "value": "positive (P. falciparum)"})
        assert status in (201, 400, 404), body  # 4xx until the order has reached the relay
        return status == 201

    eventually(posted, 30, "the lab result accepted by the relay")
    sent = time.monotonic()
    eventually(lambda: _chart_has(clinic_a[1], patient, "positive (P. falciparum)"), 5,
               "the lab result on a device of clinic A within 5 s")
    took_s = time.monotonic() - sent
    print(f"lab result on a device of clinic A {took_s:.2f} s after the relay took it")
    assert took_s < 5.0
    status, _ = relay.call("POST", f"/relay/v1/patients/{patient}/lab-results", "0" * 16 + ".x",
                           {"order_id": order, "value": "forged"})
    assert status == 401
    revoked = meshd("relay", "revoke-service", "--data-dir", str(relay.data_dir), "District lab",
                    "--clinic", "Clinic A")
    assert revoked.returncode == 0, revoked.stderr
    status, _ = relay.call("POST", f"/relay/v1/patients/{patient}/lab-results", lab,
                           {"order_id": order, "value": "after revocation"})
    assert status == 401

    report = relay.status()
    by_name = {c["name"]: c for c in report["clinics"]}
    assert by_name["Clinic A"]["charts"] >= 1 and by_name["Clinic B"]["charts"] >= 1
    assert by_name["Clinic A"]["last_contact_ms"] and by_name["Clinic B"]["errors"] == 0
    assert {row["action"] for row in report["audit"]} >= {"search", "pull", "lab_result"}
