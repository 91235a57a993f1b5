"""The soak: nodes up over mDNS, the clinic's day and the faults together, then heal, converge
and check. `run()` returns the process exit status (0 only when every check passed)."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netns import NetnsRig, remove_stale_namespaces, wait_until

from chaos_lib import checks, cluster
from chaos_lib.clinic_day import ClinicDay, DayRecord
from chaos_lib.cluster import Node
from chaos_lib.day_plan import DRUGS, OPENING_STOCK, plan_day, plan_stock
from chaos_lib.faults import FaultPlayer, plan_faults
from chaos_lib.lossy import LossyLinks

MESH_UP_S = 60.0
SETUP_SYNC_S = 60.0
FAULT_GRACE_S = 30.0  # a restart of a node killed near the end of the day may take this long


@dataclass(frozen=True)
class Config:
    """What one soak does."""

    seed: int
    minutes: float
    nodes: int
    visits: int
    converge_s: float
    workdir: Path
    keep: bool
    code: Path  # the frozen copy of the project (chaos_lib.snapshot)


def say(text: str) -> None:
    print(text, flush=True)


def run(config: Config) -> int:
    """Run the soak; 0 when every check passed, 1 otherwise."""
    remove_stale_namespaces()
    root = config.workdir
    say(f"chaos soak: seed {config.seed}, {config.minutes} min, {config.nodes} nodes, "
        f"{config.visits} visits; work dir {root}")
    problems: list[str] = []
    summary: dict[str, Any] = {"seed": config.seed, "minutes": config.minutes,
                               "nodes": config.nodes}
    nodes: list[Node] = []
    try:
        with NetnsRig() as rig:  # close() kills every process and removes every namespace
            nodes = cluster.build(rig, root / "nodes", config.nodes, config.code)
            try:
                links = LossyLinks(nodes, root, config.seed)  # before any session opens
                problems += _soak(rig, nodes, links, config, summary)
            except (TimeoutError, RuntimeError, OSError) as exc:
                problems.append(f"soak stopped: {type(exc).__name__}: {exc}")
    finally:
        for node in nodes:
            node.api.close()
    summary["problems"] = problems
    (root / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    say(f"problems: {len(problems)}")
    for problem in problems[:60]:
        say(f"  FAIL {problem}")
    if not problems and not config.keep:
        shutil.rmtree(root, ignore_errors=True)
        say("RESULT: PASS")
    else:
        verdict = "PASS" if not problems else "FAIL"
        say(f"RESULT: {verdict} (node logs and summary.json in {root})")
    return 0 if not problems else 1


def _soak(rig: NetnsRig, nodes: list[Node], links: LossyLinks, config: Config,
          summary: dict[str, Any]) -> list[str]:
    started = time.monotonic()
    for node in nodes:
        node.start(wait=False)
    for node in nodes:
        node.wait_healthy()
    wait_until(lambda: _mesh_connected(nodes), timeout_s=MESH_UP_S,
               what="every node linked into one mesh over mDNS")
    summary["mesh_up_s"] = round(time.monotonic() - started, 1)
    say(f"nodes up and linked over mDNS in {summary['mesh_up_s']} s")

    record = DayRecord()
    first = nodes[0]
    facility_doc = f"facility:{first.data.identity.facility_id}"
    day = first.api.call("GET", "/api/v1/queue").body["day"]
    queue_doc = f"queue:{first.data.identity.facility_id}:{day}"
    _stock_the_pharmacy(first, record, facility_doc)
    wait_until(lambda: not checks.api_heads_agree(nodes, [facility_doc]),
               timeout_s=SETUP_SYNC_S, what="the drug catalogue on every node")

    seconds = config.minutes * 60
    visits = plan_day(config.seed, seconds, len(nodes), config.visits)
    stock = plan_stock(config.seed, seconds, len(nodes))
    faults = plan_faults(config.seed, seconds, len(nodes))
    say(f"plan: {len(visits)} visits ({sum(v.returning_of is not None for v in visits)} "
        f"returning), {len(stock)} stock events, {len(faults)} faults")
    player = FaultPlayer(rig, nodes, faults, links)
    day_run = ClinicDay(nodes, facility_doc, queue_doc, config.seed, record)
    record.started = time.monotonic()
    player.start()
    try:
        day_run.run(visits, stock, seconds)
        # The last visits may end before the day does; the faults still planned play out.
        player.wait_played(record.started + seconds + FAULT_GRACE_S - time.monotonic())
    finally:
        heal_error = _heal(player)
    healed = time.monotonic()
    for line in player.log.lines:
        say(f"  fault {line}")
    say("all faults healed; waiting for convergence")
    took, differ = checks.wait_converged(nodes, config.converge_s)
    problems = [heal_error] if heal_error else []
    done = time.monotonic()
    summary["converge_after_heal_s"] = None if took is None else round(done - healed, 1)
    summary["converge_after_last_fault_s"] = None if took is None else round(
        done - max(player.log.last_scheduled_end_s, record.started), 1)
    if took is None:
        problems.append(f"no convergence within {config.converge_s} s; {len(differ)} docs differ")
        for doc_id, odd in differ.items():
            problems.append(f"not converged: {doc_id} differs on {', '.join(odd)}")
        summary["not_converged"] = differ
    docs = sorted(set().union(*checks.store_heads(nodes).values()))
    problems += checks.api_heads_agree(nodes, docs)
    problems += checks.acked_present(nodes, record.acks, facility_doc)
    stock_problems, levels = checks.stock_matches_ledger(nodes, facility_doc)
    problems += stock_problems
    cpu = {node.name: round(node.cpu_s + node.cpu_now(), 1) for node in nodes}
    for node in nodes:
        status = node.stop()
        if status not in (0, None):
            problems.append(f"{node.name}: exit status {status} on SIGTERM")
    for node in nodes:
        problems += checks.status_check(node)
        problems += checks.tracebacks(node)
    _summarise(summary, record, player, docs, levels, cpu, nodes)
    return problems


def _heal(player: FaultPlayer) -> str:
    try:
        player.heal_all()
    except (OSError, TimeoutError) as exc:
        return f"healing failed: {type(exc).__name__}: {exc}"
    return ""


def _mesh_connected(nodes: list[Node]) -> bool:
    """Every node reaches every other through live sync sessions (not necessarily directly)."""
    time.sleep(0.5)  # each poll asks every node; no need to ask twenty times a second
    links = {node.data.identity.device_name: cluster.connected_peers(node) for node in nodes}
    start = nodes[0].data.identity.device_name
    reached, frontier = {start}, [start]
    while frontier:
        for peer in links.get(frontier.pop(), set()):
            if peer in links and peer not in reached:
                reached.add(peer)
                frontier.append(peer)
    return len(reached) == len(nodes) and all(links.values())


def _stock_the_pharmacy(node: Node, record: DayRecord, facility_doc: str) -> None:
    """The catalogue and the opening stock, written on the first node before the day."""
    for drug_id, (name, form, strength, _) in DRUGS.items():
        added = node.api.call("POST", "/api/v1/facility/drugs", {
            "drug_id": drug_id, "name": name, "form": form, "strength": strength})
        if not added.ok:
            raise RuntimeError(f"adding {drug_id}: {added}")
        record.ack("drug", node, facility_doc, drug_id)
        got = node.api.call("POST", "/api/v1/facility/stock/receive", {
            "drug_id": drug_id, "quantity": OPENING_STOCK, "ref": "opening stock"})
        if not got.ok:
            raise RuntimeError(f"opening stock of {drug_id}: {got}")
        record.ack("ledger", node, facility_doc, str(got.body["id"]))


def _summarise(summary: dict[str, Any], record: DayRecord, player: FaultPlayer,
               docs: list[str], levels: dict[str, int], cpu: dict[str, float],
               nodes: list[Node]) -> None:
    by_kind: dict[str, int] = {}
    for ack in record.acks:
        by_kind[ack.kind] = by_kind.get(ack.kind, 0) + 1
    summary.update({
        "writes_acknowledged": len(record.acks), "acks_by_kind": by_kind,
        "attempts": dict(record.attempts), "failures": dict(record.failures),
        "rejections": record.rejections, "notes": dict(record.notes),
        "faults": dict(player.log.started), "fault_errors": player.log.errors,
        "fault_log": player.log.lines, "documents": len(docs), "stock": levels,
        "cpu_s": cpu, "starts": {n.name: n.starts for n in nodes},
    })
    say(f"writes acknowledged: {len(record.acks)} {by_kind}")
    say(f"write attempts: {sum(record.attempts.values())}; failed attempts: "
        f"{sum(record.failures.values())} {dict(record.failures.most_common(8))}")
    for what, sample in record.rejections.items():
        say(f"  rejected {what}: {sample[:200]}")
    for what, count in record.notes.items():
        say(f"  note: {what} x{count}")
    say(f"faults: {dict(player.log.started)}; fault errors: {len(player.log.errors)}")
    for error in player.log.errors[:10]:
        say(f"  fault error: {error}")
    say(f"documents: {len(docs)}; converged {summary.get('converge_after_heal_s')} s after "
        f"heal_all (every node healthy), {summary.get('converge_after_last_fault_s')} s after the "
        f"schedule's last fault ended; stock: {levels}")
    say(f"CPU seconds per node: {cpu}; starts: {summary['starts']}")
