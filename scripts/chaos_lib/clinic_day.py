"""Run the planned day through the nodes' JSON APIs and record every acknowledged write.

A step is tried at its station's node, then at the node that last wrote the chart (it surely
holds it), then at one more: a clerk walks to another device when a tablet hangs. Only a 2xx
answer is an acknowledgement; each one becomes an `Ack` naming the document and the id the API
returned, which the end-of-day check must find on every node.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chaos_lib.cluster import Node
from chaos_lib.day_plan import DRUGS, StockEvent, Visit
from chaos_lib.nsclient import Answer

RETRY_PAUSE_S = 0.3
MAX_VISITS_AT_ONCE = 10
CHART = "/api/v1/patients"


@dataclass(frozen=True, slots=True)
class Ack:
    """A write some node acknowledged: `key` must appear in `doc_id` on every node.

    kind: register (the chart exists), entry (chart `entries`), demographics
    (`demographic_writes`), closed (entry `key` carries a `closed` stamp), dispense (a chart
    entry whose ledger line must be in the facility too), queue-entry, queue-move, ledger.
    """

    kind: str
    node: str
    doc_id: str
    key: str
    at_s: float


@dataclass
class DayRecord:
    """What the day did: acknowledged writes and every failed attempt, thread-safe."""

    started: float = field(default_factory=time.monotonic)
    acks: list[Ack] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    rejections: dict[str, str] = field(default_factory=dict)  # a sample message per kind
    notes: Counter[str] = field(default_factory=Counter)  # things worth saying in the summary
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, kind: str, node: Node, doc_id: str, key: str) -> None:
        with self.lock:
            self.acks.append(Ack(kind, node.name, doc_id, key, time.monotonic() - self.started))

    def attempt(self, what: str) -> None:
        with self.lock:
            self.attempts[what] += 1

    def failed(self, what: str, answer: Answer) -> None:
        reason = "no answer" if answer.status == 0 else f"{answer.status}"
        with self.lock:
            self.failures[f"{what} {reason}"] += 1
            if answer.status >= 400 and answer.status != 404:
                error = answer.body.get("error") if isinstance(answer.body, dict) else answer.body
                self.rejections.setdefault(f"{what} {answer.status} {error}", str(answer.body))

    def note(self, what: str) -> None:
        with self.lock:
            self.notes[what] += 1


class ClinicDay:
    """The day's visits and stock events run against `nodes` until `deadline` (monotonic)."""

    def __init__(self, nodes: list[Node], facility_doc: str, queue_doc: str, seed: int,
                 record: DayRecord) -> None:
        self.nodes = nodes
        self.facility_doc = facility_doc
        self.queue_doc = queue_doc
        self.seed = seed
        self.record = record
        self.patients: dict[int, str] = {}  # visit number -> patient id, once registered
        self.deadline = 0.0

    # -- one write ---------------------------------------------------------------------------

    def write(self, what: str, order: list[int], path: str, body: Any) -> tuple[Node, Any] | None:
        """POST at the first node of `order` that acknowledges; (node, answer body) or None."""
        tried: list[int] = []
        for index in order:
            if index in tried or time.monotonic() > self.deadline:
                continue
            tried.append(index)
            node = self.nodes[index]
            self.record.attempt(what)
            answer = node.api.call("POST", path, body)
            if answer.ok:
                return node, answer.body
            self.record.failed(what, answer)
            if answer.status not in (0, 404, 500, 503):
                return None  # refused on its merits: another device would refuse it too
            time.sleep(RETRY_PAUSE_S)
        return None

    def _order(self, station: int, last: int | None, spare: int) -> list[int]:
        return [station] + ([last] if last is not None else []) + [spare % len(self.nodes)]

    # -- a visit -----------------------------------------------------------------------------

    def run_visit(self, visit: Visit) -> None:
        """Registration → triage → consultation → lab → pharmacy, as far as the devices allow."""
        pauses = iter(visit.pause_s)

        def walk() -> None:
            time.sleep(next(pauses, 0.5))

        pid = self._register(visit)
        if pid is None:
            return
        doc = f"chart:{pid}"
        last: list[int | None] = [visit.reg]

        def chart_write(what: str, station: int, op: str, body: dict[str, Any],
                        kind: str = "entry") -> str | None:
            done = self.write(what, self._order(station, last[0], station + 1),
                              f"{CHART}/{pid}/{op}", body)
            if done is None:
                return None
            node, answer = done
            last[0] = node.index
            self.record.ack(kind, node, doc, str(answer["id"]))
            return str(answer["id"])

        queued = self._queue(visit, pid)
        walk()
        encounter = chart_write("encounter", visit.triage, "encounters",
                                {"chief_complaint": f"{visit.illness[1]} (visit {visit.number})"})
        link = {"encounter_id": encounter} if encounter else {}
        if encounter:
            chart_write("triage", visit.triage, "triage", {
                **link, "category": "priority" if visit.vitals["temperature_c"] > 39.5
                else "queue", "vitals": visit.vitals})
        if visit.allergy:
            chart_write("allergy", visit.triage, "allergies",
                        {"substance": "Sulfonamides", "severity": "moderate"})  # no clash
        self._move(queued, visit.triage, "consultation")
        walk()
        code, label, drug_id, test = visit.illness
        chart_write("diagnosis", visit.consult, "diagnoses",
                    {**link, "code": code, "label": label, "certainty": "provisional"})
        both = self._concurrently(
            lambda: chart_write("note", visit.consult, "notes", {
                **link, "text": f"seed {self.seed} visit {visit.number}: seen in consultation"}),
            lambda: chart_write("note", visit.helper, "notes", {
                **link, "text": f"seed {self.seed} visit {visit.number}: nurse adds history"}),
        )
        if all(both):
            self.record.note("one chart edited on two devices at once, both acknowledged")
        name, _, _, template = DRUGS[drug_id]
        prescription = {**link, **template, "drug": name, "drug_id": drug_id,
                        "quantity": visit.quantity}
        rx = chart_write("prescription", visit.consult, "prescriptions", prescription)
        order = chart_write("lab-order", visit.consult, "lab-orders",
                            {**link, "test": test, "specimen": "blood"}) if test else None
        self._move(queued, visit.consult, "lab" if order else "pharmacy")
        walk()
        if order:
            chart_write("lab-result", visit.lab, "lab-results", {
                "order_id": order, "value": "negative" if visit.number % 3 else "positive",
                "interpretation": "negative" if visit.number % 3 else "positive"})
            self._move(queued, visit.lab, "pharmacy")
            walk()
        if rx:
            self._dispense(visit, pid, rx, drug_id, chart_write)
        self._done(queued, visit.pharmacy)
        if encounter:
            chart_write("close", visit.pharmacy, f"encounters/{encounter}/close", {},
                        kind="closed")

    def _register(self, visit: Visit) -> str | None:
        node = self.nodes[visit.reg]
        known = self.patients.get(visit.returning_of) if visit.returning_of is not None else None
        if known is not None:
            family = visit.registration["family_name"]
            found = node.api.call("GET", f"{CHART}?q={family}")
            if not (found.ok and any(r.get("id") == known for r in found.body["results"])):
                self.record.note("returning patient not found at the desk (not synced yet)")
            done = self.write("demographics", self._order(visit.reg, None, visit.reg + 1),
                              f"{CHART}/{known}/demographics",
                              {"phone": f"+2547{self.seed % 100:02d}{visit.number:06d}"})
            if done is not None:
                self.record.ack("demographics", done[0], f"chart:{known}", str(done[1]["id"]))
            self.patients[visit.number] = known
            return known
        done = self.write("register", self._order(visit.reg, None, visit.reg + 1), CHART,
                          visit.registration)
        if done is None:
            return None
        pid = str(done[1]["id"])
        self.record.ack("register", done[0], f"chart:{pid}", pid)
        self.patients[visit.number] = pid
        return pid

    def _queue(self, visit: Visit, pid: str) -> tuple[str, int] | None:
        done = self.write("enqueue", self._order(visit.reg, None, visit.reg + 1),
                          "/api/v1/queue", {"patient_id": pid, "station": "triage"})
        if done is None:
            return None
        self.record.ack("queue-entry", done[0], self.queue_doc, str(done[1]["id"]))
        return str(done[1]["id"]), done[0].index

    def _move(self, queued: tuple[str, int] | None, station: int, to: str) -> None:
        if queued is None:
            return
        done = self.write("queue-move", self._order(station, queued[1], station + 1),
                          f"/api/v1/queue/{queued[0]}/move", {"station": to})
        if done is not None:
            self.record.ack("queue-move", done[0], self.queue_doc, str(done[1]["id"]))

    def _done(self, queued: tuple[str, int] | None, station: int) -> None:
        if queued is None:
            return
        done = self.write("queue-done", self._order(station, queued[1], station + 1),
                          f"/api/v1/queue/{queued[0]}/done", None)
        if done is not None:
            self.record.ack("queue-move", done[0], self.queue_doc, str(done[1]["id"]))

    def _dispense(self, visit: Visit, pid: str, rx: str, drug_id: str, chart_write: Any) -> None:
        def give(station: int, quantity: int) -> str | None:
            return chart_write("dispense", station, "dispense",
                               {"prescription_id": rx, "drug_id": drug_id, "quantity": quantity},
                               kind="dispense")

        if not visit.split_dispense:
            give(visit.pharmacy, visit.quantity)
            return
        # Two dispensary PCs hand out the same drug for the same prescription at once.
        half = visit.quantity // 2
        both = self._concurrently(lambda: give(visit.pharmacy, half),
                                  lambda: give(visit.pharmacy2, visit.quantity - half))
        if all(both):
            self.record.note("one drug dispensed on two devices at once, both acknowledged")

    @staticmethod
    def _concurrently(*steps: Any) -> list[Any]:
        """Run the steps in threads at once; their results, in order."""
        results: list[Any] = [None] * len(steps)

        def run(i: int) -> None:
            results[i] = steps[i]()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    # -- stock and the whole day ---------------------------------------------------------------

    def run_stock(self, event: StockEvent) -> None:
        """A delivery or a count correction at the event's node."""
        if event.quantity > 0:
            path, body = "/api/v1/facility/stock/receive", {
                "drug_id": event.drug_id, "quantity": event.quantity, "ref": "chaos delivery"}
        else:
            path, body = "/api/v1/facility/stock/adjust", {
                "drug_id": event.drug_id, "quantity": event.quantity, "reason": "count"}
        done = self.write("stock", self._order(event.node, None, event.node + 1), path, body)
        if done is not None:
            self.record.ack("ledger", done[0], self.facility_doc, str(done[1]["id"]))

    def run(self, visits: list[Visit], stock: list[StockEvent], seconds: float) -> None:
        """Start each visit and stock event at its time; return when all ended (bounded)."""
        start = time.monotonic()
        self.deadline = start + seconds
        timeline = sorted([(v.arrive_s, self.run_visit, v) for v in visits]
                          + [(e.at_s, self.run_stock, e) for e in stock],
                          key=lambda item: item[0])
        with ThreadPoolExecutor(MAX_VISITS_AT_ONCE, "visit") as pool:
            for at_s, run, item in timeline:
                delay = start + at_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._guarded, run, item)
        # The pool's exit waits for every visit; each write is bounded and none starts after
        # the deadline, so this ends shortly after it.

    def _guarded(self, run: Any, item: Any) -> None:
        try:
            run(item)
        except Exception as exc:  # a bug in this script must show, not silently end a visit
            self.record.note(f"workload error: {type(exc).__name__}: {exc}")
