"""Doc id builders and the strict parser used on ids from peers and URLs."""

from __future__ import annotations

import pytest

from crdt_model.errors import ValidationError
from crdt_model.ids import (
    chart_id,
    directory_id,
    facility_id,
    parse_doc_id,
    queue_id,
)

UUID = "6f1c2a9e-3b7d-4c55-9a0e-2d8f4b1c7e63"


def test_builders_round_trip_through_the_parser() -> None:
    assert parse_doc_id(chart_id(UUID)) == ("chart", (UUID,))
    assert parse_doc_id(facility_id("kibera-hc")) == ("facility", ("kibera-hc",))
    assert parse_doc_id(queue_id("kibera-hc", "2026-11-22")) == (
        "queue", ("kibera-hc", "2026-11-22")
    )
    assert parse_doc_id(directory_id("mesh1")) == ("directory", ("mesh1",))


@pytest.mark.parametrize("bad", [
    "", "chart", "chart:", "chart:not-a-uuid", f"chart:{UUID.upper()}", f"chart:{UUID}:x",
    "facility:", "facility:a b", "facility:../etc", "queue:kibera", "queue:kibera:2026-13-01",
    "queue:kibera:2026-02-30", "directory:", "patient:123", "x" * 300, None, 42,
    "facility:-leading", "directory:mesh\n",
])
def test_malformed_doc_ids_are_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(ValidationError) as err:
        parse_doc_id(bad)
    assert err.value.field == "doc_id"


def test_builders_refuse_bad_parts() -> None:
    with pytest.raises(ValidationError) as err:
        queue_id("kibera", "22/11/2026")
    assert err.value.field == "date"
    with pytest.raises(ValidationError) as err:
        facility_id("has:colon")
    assert err.value.field == "facility"
