"""The sample generator is deterministic and produces charts the model itself accepts."""

from __future__ import annotations

import random

from crdt_fixtures import PATIENT, TODAY

from crdt_model import chart, validate
from crdt_model.context import Author
from crdt_model.sample import build_sample_chart, sample_registration


def test_sample_registrations_are_valid_and_repeatable() -> None:
    for i in range(200):
        data = sample_registration(i)
        assert data == sample_registration(i)
        validate.registration(data, TODAY)


def test_same_seed_builds_the_same_chart() -> None:
    author = Author("a1a1a1a1a1a1a1a1", "0e0e0e0e0e0e0e0e", 1_795_000_000_000)
    one = build_sample_chart(PATIENT, author, random.Random(7))
    two = build_sample_chart(PATIENT, author, random.Random(7))
    assert one.heads() == two.heads()
    view = chart.chart_view(one)
    assert view["encounters"] and all(not e["open"] for e in view["encounters"])
    assert view["prescriptions"] and view["diagnoses"]
    assert view["review"] == []
