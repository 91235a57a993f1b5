"""Flow control of a sync link (meshd.sync.flow): the sender's window of bytes not yet
credited, and the credit a receiver gives back as bytes leave its hands."""

from __future__ import annotations

import asyncio

import pytest

from crdt_model.errors import SyncError
from meshd.sync.flow import (
    CREDIT_STEP_BYTES,
    MAX_PIECE_BYTES,
    WINDOW_BYTES,
    ReceiveCredit,
    SendWindow,
)


@pytest.mark.asyncio
async def test_the_window_closes_past_its_size_and_opens_on_credit() -> None:
    window = SendWindow()
    window.sent(WINDOW_BYTES)
    assert await window.wait_open()  # at the limit, one more piece may go
    window.sent(1)
    waiting = asyncio.create_task(window.wait_open())
    await asyncio.sleep(0)
    assert not waiting.done()
    window.credit(1)
    async with asyncio.timeout(1):
        assert await waiting
    assert window.outstanding() == WINDOW_BYTES


@pytest.mark.asyncio
async def test_a_closed_link_stops_the_wait_and_bogus_credit_is_refused() -> None:
    window = SendWindow()
    window.sent(WINDOW_BYTES + 1)
    waiting = asyncio.create_task(window.wait_open())
    await asyncio.sleep(0)
    window.close()
    async with asyncio.timeout(1):
        assert not await waiting
    with pytest.raises(SyncError):
        window.credit(WINDOW_BYTES + 2)  # more than was ever sent
    with pytest.raises(SyncError):
        window.credit(0)


def test_credit_goes_back_in_steps_and_never_for_frames_the_session_has_not_taken() -> None:
    credit = ReceiveCredit()
    credit.arrived(CREDIT_STEP_BYTES - 1)
    assert credit.due() == 0  # less than a step
    credit.arrived(1)
    credit.hold(CREDIT_STEP_BYTES)  # a whole frame, waiting for the session
    assert credit.due() == 0
    credit.release(CREDIT_STEP_BYTES)
    assert credit.due() == CREDIT_STEP_BYTES
    assert credit.due() == 0  # given once


def test_a_peer_that_sends_past_its_window_is_refused() -> None:
    credit = ReceiveCredit()
    credit.arrived(WINDOW_BYTES + MAX_PIECE_BYTES)  # all an honest peer may have in flight
    credit.hold(WINDOW_BYTES + MAX_PIECE_BYTES)
    with pytest.raises(SyncError, match="past its flow-control window"):
        credit.arrived(1)
