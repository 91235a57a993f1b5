"""The records of a drug's stock card (its batches and every movement), as the pharmacy's
stock card page shows them; the service fills them from the facility's ledger."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StockBatch:
    """A batch of the drug: its level now and expiry day, flagged expired or expiring soon."""

    batch: str
    expires: str | None
    level: int
    expired: bool
    near_expiry: bool


@dataclass(frozen=True, slots=True)
class StockMovement:
    """One ledger line of the drug: received, dispensed or adjusted, from which batches, by
    whom, and the level after it."""

    at_ms: int
    kind: str
    quantity: int
    batches: tuple[tuple[str, int], ...]
    ref: str | None
    user_name: str
    level: int


@dataclass(frozen=True, slots=True)
class StockCard:
    """A drug's stock card."""

    drug_id: str
    name: str
    unit: str
    level: int
    batches: tuple[StockBatch, ...]
    movements: tuple[StockMovement, ...]
