"""The per-document sync guards: repeated states get no reply, and bytes are bounded a minute."""

from __future__ import annotations

import random
import uuid

import pytest

from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import CorruptDocument
from crdt_model.sample import build_sample_chart
from meshd.sync import doc_sync
from meshd.sync.doc_sync import DocSync

AT_MS = 1_763_800_000_000


def _chart(seed: int) -> Doc:
    return build_sample_chart(str(uuid.UUID(int=seed)), Author("aa" * 8, "01" * 8, AT_MS),
                              random.Random(seed))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_repeated_message_that_asks_for_nothing_gets_no_reply() -> None:
    ours, theirs = _chart(1), _chart(1)
    peer, me = DocSync("peer"), DocSync("me")
    hello = peer.generate("chart:x", theirs)
    assert hello is not None
    first = me.receive("chart:x", ours, hello)
    assert first.reply and not first.gained  # same document: heads and a filter, answered once
    again = me.receive("chart:x", ours, hello)
    assert not again.reply and not again.reset


def test_a_document_over_the_byte_budget_is_paused_for_the_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doc_sync, "BYTES_PER_DOC_PER_MINUTE", 100)
    clock = Clock()
    me = DocSync("peer", clock)
    doc = _chart(2)
    first = me.generate("chart:x", doc)
    assert first is not None and len(first) <= 100
    assert me.generate("chart:x", _chart(3)) is not None  # this one crosses the bound
    assert me.over_budget() == ["chart:x"]
    assert me.generate("chart:x", _chart(4)) is None
    clock.now += doc_sync.BUDGET_WINDOW_S
    assert me.over_budget() == []
    assert me.generate("chart:x", _chart(5)) is not None


def test_a_message_that_is_not_a_sync_message_is_refused() -> None:
    with pytest.raises(CorruptDocument):
        DocSync("peer").receive("chart:x", _chart(6), b"\x42\x05" + b"\0" * 10)
