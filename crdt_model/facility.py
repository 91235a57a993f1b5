"""A facility document `facility:<id>`: settings, drug catalogue and stock ledger.

The document starts from a deterministic genesis (same first change on every device,
docs/ARCHITECTURE.md §3), so two devices that create the facility apart merge without losing
either side. Stock is a ledger of signed quantities (receive +, dispense −, adjust ±); the level
is the sum, so concurrent dispensing adds up. A level below zero is flagged, never refused: the
shelf is the truth and the ledger catches up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crdt_model.adapter import Doc, Tx
from crdt_model.batches import batch_levels, first_expiry_first_out
from crdt_model.context import Author
from crdt_model.errors import ConflictError, InvalidFields, NotFound, ValidationError
from crdt_model.ids import (
    FACILITY,
    SCHEMA_VERSION,
    check_day,
    check_entry_id,
    check_slug,
    facility_id,
)
from crdt_model.validate import atc_code, integer, name, reject_unknown, require_mapping, text

LEDGER = ("ledger",)
DRUGS = ("drugs",)
SETTINGS = ("settings",)
MAX_STOCK_MOVE = 1_000_000
MAX_BATCH_CHARS = 50
DRUG_FIELDS = ("name", "atc", "form", "strength", "unit", "reorder_level")
SETTING_FIELDS = ("name", "district", "country")


def facility_genesis(facility: str, author: Author) -> Doc:
    """The facility document as every device starts it, writing next as `author`."""
    doc_id = facility_id(facility)

    def build(tx: Tx) -> None:
        tx.update((), {
            "schema": SCHEMA_VERSION, "type": FACILITY, "id": doc_id, "facility": facility,
            "settings": {}, "drugs": {}, "ledger": {},
        })

    return Doc.genesis(doc_id, build, author.actor)


def _root(doc: Doc) -> dict[str, Any]:
    root = doc.to_dict()
    if root.get("type") != FACILITY or not isinstance(root.get("ledger"), dict):
        raise NotFound("this document is not a facility", field="doc")
    return root


def set_settings(doc: Doc, data: object, author: Author) -> list[bytes]:
    """Write facility settings {name?, district?, country?}, one key each."""
    raw = require_mapping(data)
    reject_unknown(raw, SETTING_FIELDS)
    clean = {k: name(v, k) for k, v in raw.items()}
    if not clean:
        raise ValidationError("nothing to update", field="data")
    _root(doc)
    doc.set_actor(author.actor)
    return doc.change(lambda tx: tx.update(SETTINGS, clean))


def new_facility(facility: str, data: object, author: Author) -> Doc:
    """Genesis followed by the settings written as a normal change by `author`."""
    doc = facility_genesis(facility, author)
    set_settings(doc, data, author)
    return doc


def add_drug(doc: Doc, drug_id: str, data: object, author: Author) -> list[bytes]:
    """Add a drug {name, atc?, form?, strength?, unit?, reorder_level?} to the catalogue.

    `atc` is its WHO ATC code (what allergy checks compare); `reorder_level` is the stock
    level (in units) at or below which the pharmacy reorders.
    ConflictError if the drug is already present.
    """
    check_slug(drug_id, "drug_id")
    raw = require_mapping(data)
    reject_unknown(raw, DRUG_FIELDS)
    clean: dict[str, Any] = {"name": name(raw.get("name"), "name")}
    for key in ("form", "strength", "unit"):
        if raw.get(key) is not None:
            clean[key] = name(raw[key], key)
    if raw.get("atc") is not None:
        clean["atc"] = atc_code(raw["atc"])
    if raw.get("reorder_level") is not None:
        clean["reorder_level"] = integer(raw["reorder_level"], "reorder_level", 0, MAX_STOCK_MOVE)
    drugs = _root(doc).get("drugs")
    if isinstance(drugs, dict) and drug_id in drugs:
        raise ConflictError(f"drug {drug_id!r} is already in the catalogue", field="drug_id")
    doc.set_actor(author.actor)
    body = {**clean, "added": author.stamp()}
    return doc.change(lambda tx: tx.put(DRUGS, drug_id, body))


def _ledger_entry(
    doc: Doc, ledger_id: str, drug_id: str, quantity: int, kind: str, extra: Mapping[str, Any],
    author: Author,
) -> list[bytes]:
    check_entry_id(ledger_id, "ledger_id")
    root = _root(doc)
    drugs = root.get("drugs")
    if not isinstance(drugs, dict) or drug_id not in drugs:
        raise NotFound(f"drug {drug_id!r} is not in the catalogue", field="drug_id")
    if ledger_id in root["ledger"]:
        raise ConflictError(f"ledger entry {ledger_id!r} already exists", field="ledger_id")
    body = {"drug_id": drug_id, "quantity": quantity, "kind": kind, **extra, **author.stamp()}
    doc.set_actor(author.actor)
    return doc.change(lambda tx: tx.put(LEDGER, ledger_id, body))


def receive_stock(doc: Doc, data: object, author: Author, ledger_id: str) -> list[bytes]:
    """Record stock received {drug_id, quantity > 0, ref?, batch?, expires?} (a delivery; its
    batch number and expiry day, given out first-expiry-first-out: crdt_model.batches)."""
    raw = require_mapping(data)
    reject_unknown(raw, ("drug_id", "quantity", "ref", "batch", "expires"))
    drug_id = check_slug(raw.get("drug_id"), "drug_id")
    quantity = integer(raw.get("quantity"), "quantity", 1, MAX_STOCK_MOVE)
    extra = {"ref": text(raw["ref"], "ref", max_chars=200)} if raw.get("ref") else {}
    if raw.get("batch"):
        extra["batch"] = text(raw["batch"], "batch", max_chars=MAX_BATCH_CHARS)
    if raw.get("expires"):
        extra["expires"] = check_day(raw["expires"], "expires")
    return _ledger_entry(doc, ledger_id, drug_id, quantity, "receive", extra, author)


def adjust_stock(doc: Doc, data: object, author: Author, ledger_id: str) -> list[bytes]:
    """Record a stock count correction {drug_id, quantity (signed, not 0), reason}."""
    raw = require_mapping(data)
    reject_unknown(raw, ("drug_id", "quantity", "reason", "batch"))
    drug_id = check_slug(raw.get("drug_id"), "drug_id")
    quantity = integer(raw.get("quantity"), "quantity", -MAX_STOCK_MOVE, MAX_STOCK_MOVE)
    if quantity == 0:
        raise ValidationError("an adjustment of 0 changes nothing", field="quantity")
    extra = {"ref": text(raw.get("reason"), "reason", max_chars=200)}
    if raw.get("batch"):
        extra["batch"] = text(raw["batch"], "batch", max_chars=MAX_BATCH_CHARS)
    return _ledger_entry(doc, ledger_id, drug_id, quantity, "adjust", extra, author)


def count_batches(doc: Doc, data: object, author: Author, ledger_ids: list[str]) -> list[str]:
    """A stock count of a drug's batches {drug_id, counts: {batch: counted}, reason}: one
    `adjust` line per batch whose counted quantity differs from its level (the line ids taken
    from `ledger_ids` in order); returns the ids written. A batch counted is one the drug has
    ("" is its stock without a batch number); every wrong count is named at once."""
    raw = require_mapping(data)
    reject_unknown(raw, ("drug_id", "counts", "reason"))
    drug_id = check_slug(raw.get("drug_id"), "drug_id")
    counts = raw.get("counts")
    if not isinstance(counts, Mapping) or not counts:
        raise ValidationError("count at least one batch", field="counts", problem="missing")
    levels = {r["batch"]: int(r["level"]) for r in batch_levels(_root(doc), drug_id)}
    errors: list[ValidationError] = []
    changes: list[tuple[str, int]] = []
    for batch, counted in counts.items():
        field = f"counts.{batch}"
        if batch not in levels:
            errors.append(ValidationError(f"{drug_id} has no batch {batch!r}", field=field))
            continue
        try:
            number = integer(counted, field, 0, MAX_STOCK_MOVE)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if number != levels[batch]:
            changes.append((batch, number - levels[batch]))
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        errors.append(ValidationError("write the reason", field="reason", problem="missing"))
    if errors:
        raise InvalidFields(errors)
    if len(ledger_ids) < len(changes):
        raise ValidationError("one ledger id per counted batch", field="ledger_id")
    written = []
    for ledger_id, (batch, quantity) in zip(ledger_ids, changes, strict=False):
        adjust_stock(doc, {"drug_id": drug_id, "quantity": quantity, "reason": reason,
                           "batch": batch}, author, ledger_id)
        written.append(ledger_id)
    return written


def record_dispense(
    doc: Doc, drug_id: str, quantity: int, ref: str, author: Author, ledger_id: str
) -> list[bytes]:
    """Take `quantity` of `drug_id` out of stock for `ref` (the chart entry dispensed), from
    its batches first-expiry-first-out on the author's day (expired batches are not given)."""
    day = datetime.fromtimestamp(author.at_ms / 1000, UTC).date().isoformat()
    taken = first_expiry_first_out(batch_levels(_root(doc), drug_id), quantity, day)
    return _ledger_entry(doc, ledger_id, drug_id, -quantity, "dispense",
                         {"ref": ref, "batches": taken}, author)


def drug_catalogue(doc: Doc) -> dict[str, dict[str, Any]]:
    """drug_id -> {name, form, strength, unit, …} as stored."""
    drugs = _root(doc).get("drugs")
    return {k: v for k, v in (drugs or {}).items() if isinstance(v, dict)}


def stock_levels(doc: Doc) -> dict[str, dict[str, Any]]:
    """drug_id -> {name, level, negative}: level is the sum of the drug's ledger entries."""
    root = _root(doc)
    drugs = root.get("drugs") if isinstance(root.get("drugs"), dict) else {}
    assert isinstance(drugs, dict)
    levels: dict[str, int] = {drug_id: 0 for drug_id in drugs}
    for entry in root["ledger"].values():
        if not isinstance(entry, dict):
            continue
        quantity, drug_id = entry.get("quantity"), entry.get("drug_id")
        if isinstance(drug_id, str) and isinstance(quantity, int):
            levels[drug_id] = levels.get(drug_id, 0) + quantity
    result = {}
    for drug_id, level in sorted(levels.items()):
        drug = drugs.get(drug_id)
        label = drug.get("name") if isinstance(drug, dict) else None
        result[drug_id] = {"name": label or drug_id, "level": level, "negative": level < 0}
    return result
