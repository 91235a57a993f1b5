"""Store.changed_since: which documents were written since an instant, paged by doc id."""

from __future__ import annotations

import time
from typing import Any

import pytest
from store_helpers import add_note, new_chart


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _after(instant_ms: int) -> int:
    """The first millisecond after `instant_ms` on the wall clock (a spin of at most ~1 ms)."""
    while (now := _now_ms()) <= instant_ms:
        pass
    return now


@pytest.mark.asyncio
async def test_documents_written_since_an_instant_are_listed_in_id_order_a_page_at_a_time(
    store: Any,
) -> None:
    begun = _now_ms()
    charts = [new_chart(f"Name{i}", "Family") for i in range(5)]
    await store.write([write for _, write in charts])
    ids = sorted(write.doc_id for _, write in charts)

    assert await store.changed_since(begun) == ids
    assert await store.changed_since(begun, after=ids[1], limit=2) == ids[2:4]

    later = _after(_now_ms())
    assert await store.changed_since(later) == []
    doc, write = charts[3]
    await store.write([add_note(doc, write.doc_id, "seen again")])
    assert await store.changed_since(later) == [write.doc_id]
