"""Convergence and the end-of-day checks, each returning the problems it found (empty: pass).

Documents are listed from each node's store (no API route lists them): the heads table read
over a second SQLCipher connection, as `meshd status` reads it. Everything else goes through
the JSON API: heads per document, saved documents, stock levels.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from typing import Any

from chaos_lib.clinic_day import Ack
from chaos_lib.cluster import Node
from chaos_lib.snapshot import meshd_argv, meshd_env
from crdt_model.adapter import Doc

POLL_S = 0.5
Heads = dict[str, tuple[str, ...]]


def store_heads(nodes: list[Node]) -> dict[str, Heads]:
    """node name -> {doc id: sorted heads}; a node whose store can't be read maps to {}."""
    found = {}
    for node in nodes:
        try:
            found[node.name] = node.store_heads()
        except Exception:  # a store busy or mid-checkpoint: read again next poll
            found[node.name] = {}
    return found


def differences(heads: dict[str, Heads]) -> dict[str, list[str]]:
    """doc id -> names of the nodes whose heads differ from the most common (or lack it)."""
    docs = set().union(*heads.values()) if heads else set()
    differ: dict[str, list[str]] = {}
    for doc_id in sorted(docs):
        seen = {name: h.get(doc_id) for name, h in heads.items()}
        common, _ = Counter(seen.values()).most_common(1)[0]
        odd = sorted(name for name, h in seen.items() if h != common or h is None)
        if odd:
            differ[doc_id] = odd
    return differ


def wait_converged(
    nodes: list[Node], timeout_s: float
) -> tuple[float | None, dict[str, list[str]]]:
    """Poll until every node stores the same documents with the same heads (bounded).

    Returns (seconds it took, or None on timeout; the differences seen last).
    """
    start = time.monotonic()
    differ: dict[str, list[str]] = {"(not polled)": []}
    while time.monotonic() - start < timeout_s:
        differ = differences(store_heads(nodes))
        if not differ:
            return time.monotonic() - start, {}
        time.sleep(POLL_S)
    return None, differ


def api_heads_agree(nodes: list[Node], doc_ids: list[str]) -> list[str]:
    """Every node's API answers the same heads for every document."""
    problems = []
    for doc_id in doc_ids:
        answers = {}
        for node in nodes:
            answer = node.api.call("GET", f"/api/v1/docs/{doc_id}/heads")
            answers[node.name] = tuple(sorted(answer.body["heads"])) if answer.ok else None
        if len(set(answers.values())) != 1 or None in answers.values():
            problems.append(f"heads of {doc_id} differ over the API: {answers}")
    return problems


def load_doc(node: Node, doc_id: str) -> dict[str, Any] | None:
    """The document as a plain dict, from the node's saved bytes (None if it can't be had)."""
    data = node.api.raw(f"/api/v1/docs/{doc_id}/automerge")
    return None if data is None else Doc.load(data).to_dict()


def acked_present(nodes: list[Node], acks: list[Ack], facility_doc: str) -> list[str]:
    """Every acknowledged write is in its document on every node."""
    problems = []
    by_doc: dict[str, list[Ack]] = {}
    for ack in acks:
        by_doc.setdefault(ack.doc_id, []).append(ack)
    for node in nodes:
        facility = load_doc(node, facility_doc) or {}
        ledger = facility.get("ledger", {})
        for doc_id, doc_acks in sorted(by_doc.items()):
            root = load_doc(node, doc_id)
            if root is None:
                problems.append(f"{node.name}: {doc_id} missing ({len(doc_acks)} acked writes)")
                continue
            for ack in doc_acks:
                if not _present(ack, root, ledger):
                    problems.append(f"{node.name}: {ack.kind} {ack.key} acked by {ack.node} at "
                                    f"{ack.at_s:.1f}s missing from {doc_id}")
    return problems


def _present(ack: Ack, root: dict[str, Any], ledger: dict[str, Any]) -> bool:
    entries = root.get("entries", {})
    if ack.kind == "register":
        return root.get("patient_id") == ack.key
    if ack.kind == "demographics":
        # One write id per call; each field it changed is recorded as "<write id>.<field>".
        return any(k.startswith(f"{ack.key}.") for k in root.get("demographic_writes", {}))
    if ack.kind in ("entry", "queue-entry"):
        return ack.key in entries
    if ack.kind == "closed":
        return bool(entries.get(ack.key, {}).get("closed"))
    if ack.kind == "dispense":
        entry = entries.get(ack.key)
        return entry is not None and entry.get("ledger_id") in ledger
    if ack.kind == "queue-move":
        return ack.key in root.get("moves", {})
    if ack.kind == "ledger":
        return ack.key in ledger
    if ack.kind == "drug":
        return ack.key in root.get("drugs", {})
    raise ValueError(f"unknown ack kind {ack.kind}")


def stock_matches_ledger(nodes: list[Node], facility_doc: str) -> tuple[list[str], dict[str, int]]:
    """On every node: API stock level == the ledger's sum == the store's projection, and the
    same levels everywhere. Returns (problems, the first node's levels)."""
    problems: list[str] = []
    levels_seen: dict[str, dict[str, int]] = {}
    for node in nodes:
        root = load_doc(node, facility_doc)
        stock = node.api.call("GET", "/api/v1/facility/stock")
        if root is None or not stock.ok:
            problems.append(f"{node.name}: facility or stock unreadable")
            continue
        sums: dict[str, int] = {drug: 0 for drug in root.get("drugs", {})}
        for line in root.get("ledger", {}).values():
            sums[line["drug_id"]] = sums.get(line["drug_id"], 0) + int(line["quantity"])
        levels = {drug: row["level"] for drug, row in stock.body["stock"].items()}
        if levels != sums:
            problems.append(f"{node.name}: API stock {levels} != ledger sums {sums}")
        levels_seen[node.name] = levels
    for node in nodes:
        projected = node.projected_stock(facility_doc)
        if levels_seen.get(node.name) is not None and projected:
            flat = {d: getattr(r, "level", r) for d, r in projected.items()}
            if flat != levels_seen[node.name]:
                problems.append(f"{node.name}: stored projection {flat} != "
                                f"API {levels_seen[node.name]}")
    if len({json.dumps(v, sort_keys=True) for v in levels_seen.values()}) > 1:
        problems.append(f"stock levels differ between nodes: {levels_seen}")
    first = next(iter(levels_seen.values()), {})
    return problems, first


def status_check(node: Node) -> list[str]:
    """`meshd status --check --json` on the stopped node's data dir: integrity ok."""
    done = subprocess.run([*meshd_argv(), "status", "--data-dir", str(node.data.path),
                           "--check", "--json"], capture_output=True, text=True, timeout=120,
                          check=False, env=meshd_env(node.code))
    if done.returncode != 0:
        return [f"{node.name}: meshd status --check exited {done.returncode}: "
                f"{done.stderr[-500:]}"]
    integrity = json.loads(done.stdout).get("integrity")
    return [] if integrity == "ok" else [f"{node.name}: integrity {integrity}"]


def tracebacks(node: Node) -> list[str]:
    """A line per traceback in the node's log (all its incarnations)."""
    text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if "Traceback" in line:
            tail = next((t for t in lines[i + 1:i + 60] if t and not t.startswith(" ")), "")
            found.append(f"{node.name}: log line {i + 1}: {tail[:200]}")
    return found
