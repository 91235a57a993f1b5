"""The chart's history names the clinic the relay handed the chart to (crdt_model.disclosures)."""

from __future__ import annotations

from ui.history import sentence
from ui.i18n import speaking
from ui.records import HistoryEntry


def test_the_chart_history_says_who_the_chart_was_shared_with_in_each_language() -> None:
    change = HistoryEntry(1_763_800_100_000, "relay", "relay", "disclosure", "",
                          {"action": "relay_pull", "clinic": "Clinic B"})
    with speaking("en"):
        assert sentence(change) == "Chart shared with another clinic: Clinic B"
    with speaking("fr"):
        assert sentence(change) == "Dossier partagé avec une autre clinique : Clinic B"
    with speaking("sw"):
        assert "kliniki nyingine" in sentence(change)
