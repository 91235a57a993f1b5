"""Batches of a medicine on the facility's stock ledger: received with a batch number and an
expiry day, given out first-expiry-first-out, and every movement of a drug in order.

A `receive` line may carry `batch` and `expires`; a `dispense` line carries the batches it took
from (`batches`: [[batch, quantity], …], chosen by `first_expiry_first_out` on the device that
dispensed); an `adjust` line may name a `batch`. A batch's level is the sum of what its lines
say, so two devices dispensing from one batch at once both count (a batch may go below zero,
shown, never refused, like the drug's level). Stock without a batch number is the batch "".
Pure: the day is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

NO_BATCH = ""
NEAR_EXPIRY_DAYS = 90
_NEVER = "9999-12-31"


def _lines(root: Mapping[str, Any], drug_id: str) -> list[tuple[str, dict[str, Any]]]:
    ledger = root.get("ledger")
    lines = [(k, v) for k, v in (ledger if isinstance(ledger, dict) else {}).items()
             if isinstance(v, dict) and v.get("drug_id") == drug_id
             and isinstance(v.get("quantity"), int)]
    return sorted(lines, key=lambda kv: (kv[1].get("at") if isinstance(kv[1].get("at"), int)
                                         else 0, kv[0]))


def _taken(line: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(batch, signed quantity) of one ledger line."""
    quantity = int(line["quantity"])
    split = line.get("batches")
    if isinstance(split, list) and split:
        pairs = [(str(p[0]), int(p[1])) for p in split
                 if isinstance(p, list) and len(p) == 2 and isinstance(p[1], int)]
        return [(b, -q if quantity < 0 else q) for b, q in pairs]
    batch = line.get("batch")
    return [(batch if isinstance(batch, str) else NO_BATCH, quantity)]


def batch_levels(root: Mapping[str, Any], drug_id: str) -> list[dict[str, Any]]:
    """{batch, expires, level} of each batch of `drug_id` ever received or moved, soonest
    expiry first (batches without an expiry last)."""
    levels: dict[str, int] = {}
    expires: dict[str, str | None] = {}
    for _key, line in _lines(root, drug_id):
        for batch, quantity in _taken(line):
            levels[batch] = levels.get(batch, 0) + quantity
            if line.get("kind") == "receive" and isinstance(line.get("expires"), str):
                expires.setdefault(batch, line["expires"])
    found = [{"batch": b, "expires": expires.get(b), "level": level}
             for b, level in levels.items()]
    return sorted(found, key=lambda r: (r["expires"] or _NEVER, r["batch"]))


def first_expiry_first_out(levels: list[dict[str, Any]], quantity: int,
                           day: str) -> list[list[Any]]:
    """[[batch, quantity], …] to give `quantity` from: batches in stock and not expired on
    `day`, the soonest expiry first; what they lack comes from the unbatched stock ("")."""
    left = quantity
    taken: list[list[Any]] = []
    for row in levels:
        if left == 0:
            break
        usable = row["batch"] != NO_BATCH and row["level"] > 0 and (
            row["expires"] is None or row["expires"] >= day)
        if usable:
            take = min(left, row["level"])
            taken.append([row["batch"], take])
            left -= take
    if left:
        taken.append([NO_BATCH, left])
    return taken


def expiring(levels: list[dict[str, Any]], day: str,
             within_days: int = NEAR_EXPIRY_DAYS) -> list[dict[str, Any]]:
    """Batches in stock that have expired by `day` or expire within `within_days`."""
    limit = (date.fromisoformat(day) + timedelta(days=within_days)).isoformat()
    return [r for r in levels if r["level"] > 0 and r["expires"] and r["expires"] <= limit]


def movements(root: Mapping[str, Any], drug_id: str) -> list[dict[str, Any]]:
    """Every ledger line of `drug_id`, oldest first, with the level after it: {id, kind,
    quantity, batches, expires?, ref?, user, device, at, level}."""
    level = 0
    found = []
    for key, line in _lines(root, drug_id):
        level += int(line["quantity"])
        found.append({
            "id": key, "kind": line.get("kind"), "quantity": line["quantity"],
            "batches": [[b, q] for b, q in _taken(line)], "expires": line.get("expires"),
            "ref": line.get("ref"), "user": line.get("user"), "device": line.get("device"),
            "at": line.get("at"), "level": level,
        })
    return found
