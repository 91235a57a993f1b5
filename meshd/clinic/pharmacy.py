"""Pharmacy and stock: prescriptions, dispensing (chart and ledger in one transaction), the drug
catalogue, receiving and counting stock, and the pharmacy's worklist.

The workflow rule of the pharmacy lives here: once nothing is left to dispense for a patient,
a patient waiting at the pharmacy is done for the day, whichever door the dispense came through.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crdt_model import batches, chart, facility, rules, validate, worklists
from crdt_model.adapter import Doc
from crdt_model.allergies import allergy_clashes
from crdt_model.context import Author
from crdt_model.errors import AllergyConflict, ConflictError, NotFound
from crdt_model.ids import chart_id, check_slug, check_uuid
from meshd.clinic import actions
from meshd.clinic.base import Caller, fields, new_id
from meshd.clinic.flow import DONE
from meshd.clinic.laboratory import Laboratory, pending
from meshd.clinic.medicines import known_names, substances
from meshd.clinic.projections import PRESCRIPTIONS


@dataclass(frozen=True, slots=True)
class Stock:
    """A drug of the catalogue with its level (the sum of its ledger lines)."""

    drug_id: str
    name: str
    unit: str
    level: int
    reorder_level: int


def _refuse_clash(doc: Doc, data: Mapping[str, Any], drugs: Mapping[str, Any]) -> None:
    """AllergyConflict when the drug (by name, or its catalogue entry's ATC code) clashes with a
    live allergy, by class or cross-reaction, and no override reason is given."""
    drug = drugs.get(str(data.get("drug_id")))
    atc = drug.get("atc") if isinstance(drug, Mapping) else None
    clashes = allergy_clashes(doc, str(data.get("drug") or ""), atc, known_names(drugs))
    if clashes and not data.get("override_reason"):
        raise AllergyConflict(clashes)


def drug_slug(name: str) -> str:
    """The catalogue id of a drug name: folded, non-alphanumerics as dashes."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return "".join(c if c.isalnum() else "-" for c in plain).strip("-")[:64] or "drug"


class Pharmacy(Laboratory):
    """Prescribing, dispensing and the stock of this facility."""

    async def prescribe(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Prescribe in today's visit; AllergyConflict when the drug clashes with a recorded
        allergy and `data` gives no `override_reason` (which is then kept on the entry)."""
        await self.allow(caller, "consult")
        drugs = await self.drugs()
        # Checked before the visit too, so a refused prescription checks nobody in.
        await self.docs.read(chart_id(check_uuid(patient_id, "id")),
                             lambda doc: _refuse_clash(doc, data, drugs))

        def checked(doc: Doc, entry: Any, author: Author, entry_id: str) -> object:
            clean = rules.prescription_entry(entry)
            _refuse_clash(doc, clean, drugs)  # again under the lock: an allergy may have synced
            return chart.prescribe(doc, clean, author, entry_id)

        return await self.visit_entry(patient_id, actions.PRESCRIBE, checked,
                                      rules.prescription_entry, data, caller)

    async def correct_entry(self, patient_id: str, entry_id: str, data: Mapping[str, Any],
                            caller: Caller) -> str:
        """A corrected copy of an entry; a corrected prescription meets the allergy check too."""
        await self.allow(caller, "consult")
        drugs = await self.drugs()

        def check(doc: Doc) -> None:
            target = doc.get(("entries", entry_id))
            if isinstance(target, dict) and target.get("kind") == "prescription":
                _refuse_clash(doc, data, drugs)

        await self.docs.read(chart_id(check_uuid(patient_id, "id")), check)
        return await super().correct_entry(patient_id, entry_id, data, caller)

    async def cancel_prescription(self, patient_id: str, prescription_id: str, reason: str,
                                  caller: Caller) -> str:
        """Cancel a prescription not (fully) dispensed; returns the cancel entry's id."""
        await self.allow(caller, "consult")
        return await self.chart_op(
            patient_id, actions.CANCEL_PRESCRIPTION,
            lambda doc, author, eid: chart.cancel_prescription(
                doc, prescription_id, reason, author, eid),
            caller,
        )

    async def dispense(self, patient_id: str, data: Mapping[str, Any], caller: Caller) -> str:
        """Dispense against a prescription: one chart entry and one −quantity ledger line,
        together; when nothing is left to dispense the patient leaves the pharmacy."""
        await self.allow(caller, "pharmacy")
        doc_id = chart_id(check_uuid(patient_id, "id"))
        entry_id, ledger_id = new_id(), new_id()
        author = self.author(caller)
        payload = fields(data)

        def dispense(docs: list[Doc]) -> bool:
            chart.dispense(docs[0], docs[1], payload, author, entry_id, ledger_id)
            return not worklists.pending_prescriptions(docs[0])

        all_given = await self.docs.update_many(
            [doc_id, self.facility_doc_id], dispense,
            [self.audit(caller, actions.DISPENSE, doc_id, entry_id)], actor=author.actor,
        )
        if all_given:
            await self.advance(patient_id, ("pharmacy",), DONE, caller)
        return entry_id

    async def pending_prescriptions(self) -> list[dict[str, Any]]:
        """Prescriptions of recent visits not yet fully dispensed, oldest first."""
        return await pending(self, PRESCRIPTIONS)

    async def allergens(self) -> list[tuple[str, str]]:
        """(name, ATC code) of the medicines an allergy can be recorded against, by name (the
        drug classes are `crdt_model.allergies.ALLERGY_CLASSES`)."""
        return substances()

    async def drugs(self) -> dict[str, dict[str, Any]]:
        """The facility's drug catalogue: drug id -> {name, form, strength, unit, …}."""
        return await self.docs.read(self.facility_doc_id, facility.drug_catalogue)

    async def stock(self) -> dict[str, dict[str, Any]]:
        """Stock level of every drug of the facility: drug id -> {name, level, negative}."""
        return await self.docs.read(self.facility_doc_id, facility.stock_levels)

    async def stock_list(self) -> list[Stock]:
        """The catalogue with projected levels, by name (one projection read, no ledger scan)."""
        drugs = await self.drugs()
        levels = await self.store.stock_levels(self.facility_doc_id)
        found = [
            Stock(drug_id, str(drug.get("name") or drug_id), str(drug.get("unit") or ""),
                  levels[drug_id].level if drug_id in levels else 0,
                  int(drug.get("reorder_level") or 0))
            for drug_id, drug in drugs.items()
        ]
        return sorted(found, key=lambda s: s.name.casefold())

    async def stock_card(self, drug_id: str, caller: Caller) -> dict[str, Any]:
        """A drug's stock card: its level, its batches soonest expiry first (each flagged
        `expired` or `near_expiry` today) and every movement with the level after it and who
        made it; NotFound for a drug not in the catalogue."""
        await self.allow(caller, "pharmacy")
        day = self.today().isoformat()

        def read(doc: Doc) -> dict[str, Any]:
            root = doc.to_dict()
            drug = facility.drug_catalogue(doc).get(drug_id)
            if drug is None:
                raise NotFound("choose a medicine of the catalogue", field="drug_id")
            levels = batches.batch_levels(root, drug_id)
            soon = {r["batch"] for r in batches.expiring(levels, day)}
            return {"drug_id": drug_id, "name": drug.get("name"), "unit": drug.get("unit"),
                    "batches": [{**r, "expired": bool(r["expires"] and r["expires"] < day),
                                 "near_expiry": r["batch"] in soon} for r in levels],
                    "movements": batches.movements(root, drug_id)}

        card = await self.docs.read(self.facility_doc_id, read)
        names = await self.names()
        for line in card["movements"]:
            line["user_name"] = names.user(line["user"])
        card["level"] = card["movements"][-1]["level"] if card["movements"] else 0
        return card

    async def stock_batches(self) -> dict[str, list[dict[str, Any]]]:
        """Each drug's batches not used up, soonest expiry first: {drug_id: [{batch, expires,
        level, expired, near_expiry}]} (one read of the facility)."""
        day = self.today().isoformat()

        def read(doc: Doc) -> dict[str, list[dict[str, Any]]]:
            root = doc.to_dict()
            found = {}
            for drug_id in facility.drug_catalogue(doc):
                levels = [r for r in batches.batch_levels(root, drug_id) if r["level"] != 0]
                soon = {r["batch"] for r in batches.expiring(levels, day)}
                if levels:
                    found[drug_id] = [{**r, "expired": bool(r["expires"] and r["expires"] < day),
                                       "near_expiry": r["batch"] in soon} for r in levels]
            return found

        return await self.docs.read(self.facility_doc_id, read)

    async def expiring_batches(self) -> list[dict[str, Any]]:
        """Batches in stock that have expired or expire within 90 days, soonest first:
        {drug_id, name, batch, expires, level, expired} (one read of the facility)."""
        day = self.today().isoformat()

        def read(doc: Doc) -> list[dict[str, Any]]:
            root = doc.to_dict()
            return [{"drug_id": drug_id, "name": drug.get("name") or drug_id, **row,
                     "expired": row["expires"] < day}
                    for drug_id, drug in facility.drug_catalogue(doc).items()
                    for row in batches.expiring(batches.batch_levels(root, drug_id), day)]

        found = await self.docs.read(self.facility_doc_id, read)
        return sorted(found, key=lambda r: (r["expires"], r["name"]))

    async def add_drug(self, data: Mapping[str, Any], caller: Caller) -> str:
        """Add a drug to the catalogue (its id from `drug_id`, else from its name)."""
        await self.allow(caller, "pharmacy")
        payload = fields(data)
        named = "drug_id" not in payload
        drug_id = (check_slug(drug_slug(str(payload.get("name") or "")), "name") if named
                   else check_slug(payload.pop("drug_id"), "drug_id"))

        def add(doc: Doc, author: Author, _: str) -> None:
            if named and drug_id in facility.drug_catalogue(doc):
                raise ConflictError("this drug is already in the catalogue", field="name")
            facility.add_drug(doc, drug_id, payload, author)

        return await self.facility_op(add, caller, drug_id)

    async def receive_stock(self, data: Mapping[str, Any], caller: Caller) -> str:
        """Add +quantity of a drug to the ledger {drug_id, quantity, ref?, batch?, expires?};
        returns the line."""
        await self.allow(caller, "pharmacy")
        payload = fields(data)
        return await self.facility_op(
            lambda doc, author, lid: facility.receive_stock(doc, payload, author, lid), caller
        )

    async def adjust_stock(self, data: Mapping[str, Any], caller: Caller) -> str:
        """Add a signed correction {drug_id, quantity, reason} to the ledger."""
        await self.allow(caller, "pharmacy")
        payload = fields(data)
        return await self.facility_op(
            lambda doc, author, lid: facility.adjust_stock(doc, payload, author, lid), caller
        )

    async def count_batches(self, drug_id: str, counts: Mapping[str, int], reason: str,
                            caller: Caller) -> list[str]:
        """A shelf count of a drug's batches ({batch: counted}): each batch whose count differs
        from its level gets an adjustment line with `reason`, in one change of the facility;
        returns the lines written (none when every count matched)."""
        await self.allow(caller, "pharmacy")
        author = self.author(caller)
        ids = [new_id() for _ in counts]
        payload = {"drug_id": drug_id, "counts": dict(counts), "reason": reason}
        written: list[str] = []

        def count(doc: Doc) -> None:
            if drug_id not in facility.drug_catalogue(doc):
                raise NotFound("choose a medicine of the catalogue", field="drug_id")
            written.extend(facility.count_batches(doc, payload, author, ids))

        await self.docs.update(self.facility_doc_id, count, actor=author.actor)
        return written

    async def count_stock(self, drug_id: str, counted: int, reason: str, caller: Caller) -> str:
        """Set a drug's level to what was counted on the shelf (reconciles a level below 0)."""
        await self.allow(caller, "pharmacy")
        counted = validate.integer(counted, "counted", 0, facility.MAX_STOCK_MOVE)
        levels = await self.stock()
        if drug_id not in levels:
            raise NotFound("choose a medicine of the catalogue", field="drug_id")
        return await self.adjust_stock(
            {"drug_id": drug_id, "quantity": counted - int(levels[drug_id]["level"]),
             "reason": reason}, caller,
        )
