"""Relay tiers, real processes on loopback: a clinic node -> a district relay -> a national
relay (SQLite; the national one on PostgreSQL in the second test). A patient registered on the
clinic's device reaches the national relay; a clinic linked
straight to the national relay finds and pulls the chart there, and its edit flows back down to
the clinic's device through the district. With the national relay stopped the clinic keeps
syncing with the district and the district's status shows the backlog; once the national
relay is back the backlog arrives. A revoked tier credential gets nothing. A district that
forges changes in the name of a clinic it does not serve, or of its clinic's own device, has
them refused upstream; one it countersigns for a device no clinic there lists is taken. With
two districts, a clinic of the southern one finds and pulls, through its district and the
national relay, a chart that lives in the northern one only; edits flow both ways, and the
district's search answers with its own results while the national hangs or is stopped."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import signal
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from meshd_procs import eventually, meshd
from relay_procs import RelayProcess, audit_of, relay_state, texts
from sync_procs import AT_MS, MeshdProcess, make_mesh

from crdt_model import chart
from crdt_model.context import Author
from crdt_model.ids import chart_id
from meshd.attest import Attestor
from meshd.clinic import genesis_for, project
from meshd.store import keys
from meshd.store.base import DocWrite
from meshd.store.sqlcipher import SqlCipherStore

pytestmark = pytest.mark.slow

DISTRICT = "District North"
UP_NAME = f"{DISTRICT}/Clinic A"  # the clinic as the national relay names it


def _patient(node: MeshdProcess, given: str, family: str) -> str:
    status, body = node.call("POST", "/api/v1/patients", {
        "given_name": given, "family_name": family, "sex": "female",
        "birth_date": "1990-01-02", "village": "Kisoro"})
    assert status == 201, body
    return str(body["id"])


def _clinic_node(root: Path, name: str, relay: RelayProcess, started: list[Any]
                 ) -> MeshdProcess:
    (data,) = make_mesh(root / name, 1)
    done = meshd("relay-link", "--data-dir", str(data.path), str(relay.add_clinic(name)))
    assert done.returncode == 0, done.stderr
    node = MeshdProcess(data).start([])
    started.append(node)
    eventually(lambda: relay_state(node) == "connected", 30, f"{name} linked to its relay")
    return node


def _charts(relay: RelayProcess, name: str) -> int:
    found = [c for c in relay.status()["clinics"] if c["name"] == name]
    return int(found[0]["charts"]) if found else 0


def _found(relay: RelayProcess, bearer: str, query: str) -> list[dict[str, Any]]:
    status, body = relay.call("GET", f"/relay/v1/patients?q={query}", bearer)
    assert status == 200, body
    return list(body["results"])


def _has(node: MeshdProcess, patient: str, text: str) -> bool:
    status, body = node.call("GET", f"/api/v1/patients/{patient}")
    return status == 200 and text in texts(body)


def _operator_page(relay: RelayProcess) -> str:
    """The relay's operator page, logged in with its token."""
    token = (relay.data_dir / "operator-token").read_text().strip()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(relay.cert))),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = f"https://127.0.0.1:{relay.port}/relay/operator"
    form = urllib.parse.urlencode({"token": token}).encode()
    with opener.open(page + "/login", data=form, timeout=15) as answer:
        return str(answer.read().decode())


def _tier_link_status(relay: RelayProcess, tier: Path, key: str, secret: str | None = None
                      ) -> int:
    """The answer to a tier link request with the credential (or another secret), as a plain
    GET: a refusal comes before the WebSocket would open."""
    found = json.loads(tier.read_text())
    path = (f"/relay/v1/tier/{found['clinic_id']}/{'ab' * 8}?mesh=m&name=x&key={key}")
    status, _ = relay.call("GET", path, f"{found['clinic_id']}.{secret or found['secret']}")
    return status


def _district(tmp_path: Path, national: RelayProcess, name: str, started: list[Any]
              ) -> RelayProcess:
    """A district relay linked to the national relay with a tier credential."""
    slug = name.replace(" ", "-").lower()
    district = RelayProcess(tmp_path / slug).start()
    started.append(district)
    tier = tmp_path / f"{slug}.tier"
    done = meshd("relay", "add-downstream", "--data-dir", str(national.data_dir), name,
                 "--out", str(tier))
    assert done.returncode == 0, done.stderr
    done = meshd("relay", "upstream", "--data-dir", str(district.data_dir), str(tier),
                 "--insecure-ca", str(national.cert))
    assert done.returncode == 0, done.stderr
    return district


def _tiers(tmp_path: Path, started: list[Any], db: str | None = None
           ) -> tuple[RelayProcess, RelayProcess]:
    """A national relay, and a district relay linked to it with a tier credential."""
    national = RelayProcess(tmp_path / "national", db=db).start()
    started.append(national)
    return national, _district(tmp_path, national, DISTRICT, started)


def test_a_clinic_below_a_district_reaches_the_national_relay_and_back(
    tmp_path: Path, started: list[Any]
) -> None:
    national, district = _tiers(tmp_path, started)
    clinic_a = _clinic_node(tmp_path, "Clinic A", district, started)
    first = _patient(clinic_a, "Wanjiru", "Kamau")

    # The clinic exists on the national relay, with its chart, kept apart as its own clinic.
    eventually(lambda: _charts(national, UP_NAME) >= 1, 45, "the chart on the national relay")
    up = eventually(lambda: (s := district.status()["upstream"]) and s["state"] == "connected"
                    and s, 30, "the district's upstream link connected")
    assert up["url"] == f"https://127.0.0.1:{national.port}" and up["name"] == DISTRICT
    assert [c["clinic"] for c in up["clinics"]] == ["Clinic A"]
    downstreams = national.status()["downstreams"]
    assert downstreams[0]["name"] == DISTRICT and downstreams[0]["clinics"] == [UP_NAME]
    assert not downstreams[0]["revoked"] and downstreams[0]["relay_key"]
    assert national.clinic(UP_NAME)["errors"] == 0
    shown = _operator_page(district)
    assert "Upstream relay" in shown and f"127.0.0.1:{national.port}" in shown
    assert "Connected" in shown and "Clinic A" in shown
    shown = _operator_page(national)
    assert "Downstream relays" in shown and DISTRICT in shown and UP_NAME in shown
    # The tier credential opens nothing with another secret, nor for another relay's key.
    tier = tmp_path / "district-north.tier"
    assert _tier_link_status(national, tier, "cd" * 32, secret="ef" * 32) == 403
    assert _tier_link_status(national, tier, "cd" * 32) == 403

    # A clinic linked straight to the national relay finds the patient there and pulls her
    # chart; its edit flows back down, through the district, to clinic A's device.
    clinic_z = _clinic_node(tmp_path, "Clinic Z", national, started)
    status, body = clinic_z.call("GET", "/api/v1/relay/patients?q=Wanjiru")
    assert status == 200 and [r["clinic"] for r in body["results"]] == [UP_NAME], body
    status, body = clinic_z.call("POST", f"/api/v1/relay/patients/{first}/pull")
    assert status == 200, body
    status, body = clinic_z.call("POST", f"/api/v1/patients/{first}/notes",
                                 {"text": "seen at the national referral clinic"})
    assert status == 201, body
    eventually(lambda: _has(clinic_a, first, "seen at the national referral clinic"), 45,
               "the national clinic's edit on clinic A's device, through the district")
    status, body = clinic_a.call("POST", f"/api/v1/patients/{first}/notes",
                                 {"text": "follow-up in clinic A"})
    assert status == 201, body
    eventually(lambda: _has(clinic_z, first, "follow-up in clinic A"), 45,
               "clinic A's edit back up at the national clinic")

    # The national relay goes away: the clinic keeps syncing with its district.
    national.stop()
    second = _patient(clinic_a, "Achieng", "Otieno")
    eventually(lambda: _charts(district, "Clinic A") >= 2, 30, "the district took the chart")
    assert relay_state(clinic_a) == "connected"
    down = eventually(lambda: (s := district.status()["upstream"]) and s["state"] != "connected"
                      and s["backlog"] >= 1 and s, 30, "the district's status shows the backlog")
    assert down["clinics"][0]["backlog"] >= 1
    status, body = clinic_a.call("GET", "/api/v1/relay/patients?q=Achieng")
    assert status == 200 and [r["id"] for r in body["results"]] == [second], body

    # Back: the backlog arrives, and the link settles with nothing queued.
    national.start()
    came_back = time.monotonic()
    eventually(lambda: _charts(national, UP_NAME) >= 2, 60, "the backlog reached the national")
    print(f"backlog on the national relay {time.monotonic() - came_back:.1f} s after restart")
    eventually(lambda: (s := district.status()["upstream"])["state"] == "connected"
               and s["backlog"] == 0, 30, "the upstream link idle again")
    status, body = clinic_z.call("GET", "/api/v1/relay/patients?q=Achieng")
    assert status == 200 and [r["id"] for r in body["results"]] == [second], body

    # A revoked tier credential gets nothing: the link is cut and refused from then on.
    done = meshd("relay", "revoke-downstream", "--data-dir", str(national.data_dir), DISTRICT)
    assert done.returncode == 0, done.stderr
    eventually(lambda: district.status()["upstream"]["state"] != "connected", 15,
               "the revoked tier link cut")
    third = _patient(clinic_a, "Nafula", "Wekesa")
    eventually(lambda: _charts(district, "Clinic A") >= 3, 30, "the district took the chart")
    time.sleep(8)  # several retries of the district's link
    revoked = national.status()["downstreams"][0]
    assert revoked["revoked"]
    tier = tmp_path / "district-north.tier"
    assert _tier_link_status(national, tier, revoked["relay_key"]) == 403
    assert district.status()["upstream"]["state"] != "connected"
    assert _charts(national, UP_NAME) == 2
    status, body = clinic_z.call("GET", "/api/v1/relay/patients?q=Nafula")
    assert status == 200 and third not in [r["id"] for r in body["results"]], body


def _forge_in_district(district: RelayProcess, names: dict[str, str]) -> dict[str, str]:
    """With the district relay stopped, store in its clinic's space one chart per (given name
    -> device id) written by that device and countersigned by the district relay's key, as a
    district that forges would; given name -> patient id."""
    clinic_id = district.clinic("Clinic A")["id"]
    relay_key = Ed25519PrivateKey.from_private_bytes((district.data_dir / "relay.key").read_bytes())
    signer = Attestor(relay_key, genesis_for("district"))
    space = district.data_dir / "clinics" / clinic_id
    forged: dict[str, str] = {}

    async def write() -> None:
        async with SqlCipherStore(space / "store.db", keys.load_key(space)) as store:
            for given, device in names.items():
                patient = forged[given] = str(uuid.uuid4())
                doc_id = chart_id(patient)
                doc = chart.register_patient(patient, {
                    "given_name": given, "family_name": "Forged", "sex": "male",
                    "birth_date": "1980-05-06"}, Author(device, "nurse", AT_MS), "2026-11-29")
                await store.write([DocWrite(doc_id, doc.save(), tuple(doc.heads()),
                                            project(doc_id, doc), True,
                                            tuple(signer.sign(doc_id, doc, ())))])

    asyncio.run(write())
    return forged


def test_on_postgresql_a_district_can_not_write_in_the_name_of_a_clinic_it_does_not_serve(
    tmp_path: Path, started: list[Any], postgres: Any
) -> None:
    national, district = _tiers(tmp_path, started, db=postgres.new_database())
    clinic_a = _clinic_node(tmp_path, "Clinic A", district, started)
    clinic_z = _clinic_node(tmp_path, "Clinic Z", national, started)
    first = _patient(clinic_a, "Wanjiru", "Kamau")
    eventually(lambda: _charts(national, UP_NAME) >= 1, 45, "the chart on the national relay")
    status, body = clinic_z.call("GET", "/api/v1/relay/patients?q=Wanjiru")
    assert status == 200 and [r["id"] for r in body["results"]] == [first], body

    district.stop()
    forged = _forge_in_district(district, {
        "Zuberi": clinic_z.data.identity.device_id,  # a device of a clinic it does not serve
        "Amani": clinic_a.data.identity.device_id,  # a device of its own clinic: never its key
        "Baraka": str(uuid.uuid4()),  # a device no clinic here lists: it may countersign that
    })
    district.start()
    eventually(lambda: _charts(national, UP_NAME) >= 2, 60, "the countersigned chart upstream")
    eventually(lambda: national.clinic(UP_NAME)["errors"] >= 2, 30,
               "the two forged charts refused and counted upstream")
    for given in ("Zuberi", "Amani", "Baraka"):
        status, body = clinic_z.call("GET", f"/api/v1/relay/patients?q={given}")
        assert status == 200, body
        found = [r["id"] for r in body["results"]]
        assert found == ([forged[given]] if given == "Baraka" else []), (given, body)
    assert _charts(national, UP_NAME) == 2
    assert national.clinic("Clinic Z")["errors"] == 0


SOUTH = "District South"


def _audited(relay: RelayProcess, action: str, clinic: str) -> list[dict[str, Any]]:
    """The details of the relay's cross-clinic audit rows of `action` by `clinic`, oldest first."""
    status = relay.status()
    ids = {c["name"]: c["id"] for c in status["clinics"]}
    return [row["detail"] for row in reversed(status["audit"])
            if row["action"] == action and row["clinic_id"] == ids.get(clinic)]


@pytest.mark.timeout(180)
def test_a_clinic_of_another_district_finds_and_pulls_a_chart_through_the_national_relay(
    tmp_path: Path, started: list[Any]
) -> None:
    national, north = _tiers(tmp_path, started)
    south = _district(tmp_path, national, SOUTH, started)
    clinic_a = _clinic_node(tmp_path, "Clinic A", north, started)
    clinic_b = _clinic_node(tmp_path, "Clinic B", south, started)
    first = _patient(clinic_a, "Wanjiru", "Kamau")
    local = _patient(clinic_b, "Baraka", "Mwangi")
    eventually(lambda: _charts(national, UP_NAME) >= 1, 45, "clinic A's chart on the national")
    eventually(lambda: (s := south.status()["upstream"]) and s["state"] == "connected", 30,
               "the southern district linked to the national relay")

    # Clinic B's relay (the southern district) holds no chart of hers: the national does.
    status, body = clinic_b.call("GET", "/api/v1/relay/patients?q=Wanjiru")
    assert status == 200 and body["upstream"] == "reached", body
    assert [(r["id"], r["clinic"]) for r in body["results"]] == [(first, UP_NAME)], body
    # Both patients live in Kisoro: the district's own first, each once, naming its clinic.
    status, body = clinic_b.call("GET", "/api/v1/relay/patients?q=Kisoro")
    assert status == 200, body
    assert [(r["id"], r["clinic"]) for r in body["results"]] == [
        (local, "Clinic B"), (first, UP_NAME)], body

    began = time.monotonic()
    status, body = clinic_b.call("POST", f"/api/v1/relay/patients/{first}/pull")
    assert status == 200 and body["here"] and body["from"] == [UP_NAME], body
    print(f"pulled through two tiers in {time.monotonic() - began:.1f} s")
    assert _has(clinic_b, first, "Wanjiru")

    # Audited on the national relay as clinic B's (its name there), on the southern
    # district, on clinic B's device, and on clinic A's device (the disclosure came down).
    b_up = f"{SOUTH}/Clinic B"
    assert [d["results"] for d in _audited(national, "search", b_up)] == [1, 2]
    assert [d["from"] for d in _audited(national, "pull", b_up)] == [[UP_NAME]]
    assert [d["upstream"] for d in _audited(south, "search", "Clinic B")] == [1, 2]
    assert _audited(south, "pull", "Clinic B") == [
        {"patient": first, "from": [UP_NAME], "upstream": True}]
    assert [r.detail for r in audit_of(clinic_b, "relay_pull")] == [f"from {UP_NAME}"]
    searched = [r.detail for r in audit_of(clinic_b, "relay_search")]
    assert len(searched) == 2 and all("upstream reached" in d for d in searched), searched
    rows = eventually(lambda: audit_of(clinic_a, "relay_pulled_by"), 30,
                      "the pull audited on clinic A's device")
    assert f"by {b_up}" in rows[0].detail, rows

    # From now on the chart is shared across the districts, both ways.
    status, body = clinic_b.call("POST", f"/api/v1/patients/{first}/notes",
                                 {"text": "seen in the southern district"})
    assert status == 201, body
    eventually(lambda: _has(clinic_a, first, "seen in the southern district"), 45,
               "clinic B's edit on clinic A's device, through both districts")
    status, body = clinic_a.call("POST", f"/api/v1/patients/{first}/notes",
                                 {"text": "follow-up in clinic A"})
    assert status == 201, body
    eventually(lambda: _has(clinic_b, first, "follow-up in clinic A"), 45,
               "clinic A's edit on clinic B's device")
    assert national.clinic(b_up)["errors"] == 0 and south.clinic("Clinic B")["errors"] == 0

    # A second clinic of the southern district pulls the chart too (its district holds it
    # now, with clinic A's changes): its edit reaches clinic A, and nothing is refused.
    clinic_c = _clinic_node(tmp_path, "Clinic C", south, started)
    c_up = f"{SOUTH}/Clinic C"
    eventually(lambda: any(c["name"] == c_up for c in national.status()["clinics"]), 30,
               "clinic C linked up to the national relay")
    status, body = clinic_c.call("POST", f"/api/v1/relay/patients/{first}/pull")
    assert status == 200 and body["here"], body
    status, body = clinic_c.call("POST", f"/api/v1/patients/{first}/notes",
                                 {"text": "seen in clinic C"})
    assert status == 201, body
    eventually(lambda: _has(clinic_a, first, "seen in clinic C"), 45,
               "clinic C's edit on clinic A's device")
    eventually(lambda: _has(clinic_b, first, "seen in clinic C"), 45,
               "clinic C's edit on clinic B's device")
    eventually(lambda: _charts(national, c_up) >= 1, 30, "the chart in clinic C's space upstream")
    assert national.clinic(c_up)["errors"] == 0, national.clinic(c_up)

    # A national relay that hangs (its sockets open) costs the search its bound, no more.
    assert national.process is not None
    national.process.send_signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        status, body = clinic_b.call("GET", "/api/v1/relay/patients?q=Baraka")
        took = time.monotonic() - began
    finally:
        national.process.send_signal(signal.SIGCONT)
    assert status == 200 and body["upstream"] == "unreachable", body
    assert [r["id"] for r in body["results"]] == [local], body
    assert took < 8, took
    print(f"search with the national relay hung answered in {took:.1f} s")

    # The national relay goes away: the district still answers, with its own results.
    national.stop()
    began = time.monotonic()
    status, body = clinic_b.call("GET", "/api/v1/relay/patients?q=Kisoro")
    took = time.monotonic() - began
    assert status == 200 and body["upstream"] == "unreachable", body
    assert [(r["id"], r["clinic"]) for r in body["results"]] == [
        (local, "Clinic B"), (first, "Clinic C")], body  # another holder names a shared chart
    assert took < 6, took
    print(f"search with the national relay stopped answered in {took:.1f} s")
    # And the district still carries the chart between its own two clinics.
    status, body = clinic_c.call("POST", f"/api/v1/patients/{first}/notes",
                                 {"text": "seen in clinic C while the national is down"})
    assert status == 201, body
    eventually(lambda: _has(clinic_b, first, "seen in clinic C while the national is down"), 30,
               "clinic C's edit on clinic B's device, through the district alone")
    status, body = clinic_b.call("POST", f"/api/v1/relay/patients/{uuid.uuid4()}/pull")
    assert status == 502 and b"relay_unavailable" in body, body  # the device's relay is up
