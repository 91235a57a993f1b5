"""Pairing with a 6-digit code: the PAKE, key confirmation, the window's limits, replays."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from discovery.errors import PairingClosed, PairingProtocolError, WrongCode
from discovery.pairing import (
    JoinerSession,
    PairingWindow,
    WindowState,
    new_code,
    normalize_code,
)
from discovery.pairing_channel import (
    ChannelClosed,
    memory_channel_pair,
    run_inviter,
    run_joiner,
)
from discovery.pairing_wire import Kind, decode

MESH_SECRET = b"mesh-key-32-bytes........|roster"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


IDENTITY = b"ed25519-public-key|Triage laptop"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _pair(window: PairingWindow, code: str) -> tuple[object, object]:
    """Run both sides over memory channels; each result is a value or the exception raised."""
    inviter_end, joiner_end = memory_channel_pair()
    results = await asyncio.gather(
        run_inviter(window, inviter_end, timeout_s=5),
        run_joiner(code, IDENTITY, joiner_end, timeout_s=5),
        return_exceptions=True,
    )
    return results[0], results[1]


def test_codes_are_six_digits_and_typing_separators_is_forgiven() -> None:
    codes = {new_code() for _ in range(50)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 40
    assert normalize_code("012 345") == "012345"
    assert normalize_code("012-345") == "012345"
    for bad in ("12345", "1234567", "12a456", "١٢٣٤٥٦"):
        with pytest.raises(WrongCode):
            normalize_code(bad)


@pytest.mark.asyncio
async def test_right_code_hands_each_side_the_others_payload() -> None:
    joined: list[bytes] = []
    window = PairingWindow(MESH_SECRET)
    inviter_end, joiner_end = memory_channel_pair()

    async def on_joined(identity: bytes) -> None:
        joined.append(identity)

    identity, secret = await asyncio.gather(
        run_inviter(window, inviter_end, on_joined=on_joined, timeout_s=5),
        run_joiner(window.code, IDENTITY, joiner_end, timeout_s=5),
    )
    assert identity == IDENTITY and joined == [IDENTITY]
    assert secret == MESH_SECRET
    assert window.state is WindowState.PAIRED and window.failures == 0
    # Nothing on the wire carries the secret or the identity in the clear.
    for message in inviter_end.sent + joiner_end.sent:
        assert MESH_SECRET not in message and IDENTITY not in message
        assert window.code.encode() not in message


@pytest.mark.asyncio
async def test_a_used_code_does_not_pair_a_second_device() -> None:
    window = PairingWindow(MESH_SECRET)
    await _pair(window, window.code)
    inviter, joiner = await _pair(window, window.code)
    assert isinstance(inviter, PairingClosed) and isinstance(joiner, PairingClosed)


@pytest.mark.asyncio
async def test_wrong_code_fails_without_payload_and_counts_an_attempt() -> None:
    window = PairingWindow(MESH_SECRET)
    inviter_end, joiner_end = memory_channel_pair()
    results = await asyncio.gather(
        run_inviter(window, inviter_end, timeout_s=5),
        run_joiner(_wrong(window.code), IDENTITY, joiner_end, timeout_s=5),
        return_exceptions=True,
    )
    assert isinstance(results[0], WrongCode) and isinstance(results[1], WrongCode)
    assert window.failures == 1 and window.is_open
    assert window.joiner_identity is None
    kinds = [m[1] for m in inviter_end.sent]
    assert kinds == [Kind.INVITER_PAKE, Kind.FAILED]  # no sealed secret ever left the inviter
    assert all(MESH_SECRET not in m for m in inviter_end.sent)


@pytest.mark.asyncio
async def test_three_wrong_codes_close_the_window_even_for_the_right_code() -> None:
    window = PairingWindow(MESH_SECRET)
    for _ in range(3):
        inviter, joiner = await _pair(window, _wrong(window.code))
        assert isinstance(joiner, WrongCode)
    assert window.state is WindowState.EXHAUSTED
    inviter, joiner = await _pair(window, window.code)
    assert isinstance(inviter, PairingClosed) and isinstance(joiner, PairingClosed)
    assert "too many wrong" in str(joiner)


@pytest.mark.asyncio
async def test_parallel_guesses_cannot_exceed_three_attempts() -> None:
    window = PairingWindow(MESH_SECRET)
    guesses = [JoinerSession(_wrong(window.code), IDENTITY) for _ in range(5)]
    sessions = [window.open_session() for _ in guesses]
    confirms = []
    for session, guess in zip(sessions, guesses, strict=True):
        confirms.append(guess.handle(session.handle(guess.first_message())))
    outcomes = []
    for session, confirm in zip(sessions, confirms, strict=True):
        assert confirm is not None
        with pytest.raises((WrongCode, PairingClosed)) as raised:
            session.handle(confirm)
        outcomes.append(type(raised.value))
        session.abandon()
        session.abandon()  # twice is safe and counts nothing more
    assert outcomes == [WrongCode] * 3 + [PairingClosed] * 2
    assert window.failures == 3 and window.state is WindowState.EXHAUSTED


@pytest.mark.asyncio
async def test_expiry_closes_the_window() -> None:
    clock = FakeClock()
    window = PairingWindow(MESH_SECRET, clock=clock)
    clock.advance(299.0)
    assert window.is_open and window.remaining_s() == pytest.approx(1.0)
    clock.advance(1.0)
    assert window.state is WindowState.EXPIRED and window.remaining_s() == 0.0
    _, joiner = await _pair(window, window.code)
    assert isinstance(joiner, PairingClosed) and "expired" in str(joiner)


@pytest.mark.asyncio
async def test_window_expiring_mid_session_gives_nothing() -> None:
    clock = FakeClock()
    window = PairingWindow(MESH_SECRET, clock=clock)
    session = window.open_session()
    joiner = JoinerSession(window.code, IDENTITY)
    reply = session.handle(joiner.first_message())
    confirm = joiner.handle(reply)
    assert confirm is not None
    clock.advance(301.0)
    with pytest.raises(PairingClosed):
        session.handle(confirm)


@pytest.mark.asyncio
async def test_closing_the_window_stops_pairing() -> None:
    window = PairingWindow(MESH_SECRET)
    window.close()
    _, joiner = await _pair(window, window.code)
    assert isinstance(joiner, PairingClosed) and "cancelled" in str(joiner)


@pytest.mark.asyncio
async def test_messages_replayed_from_a_successful_session_fail() -> None:
    window = PairingWindow(MESH_SECRET)
    inviter_end, joiner_end = memory_channel_pair()
    await asyncio.gather(
        run_inviter(window, inviter_end, timeout_s=5),
        run_joiner(window.code, IDENTITY, joiner_end, timeout_s=5),
    )
    recorded = joiner_end.sent  # what an eavesdropper captured from the joiner

    # Replayed against a fresh window with the same code: the PAKE reply is fresh, so the old
    # confirmation MAC no longer matches and nothing secret is sent.
    fresh = PairingWindow(MESH_SECRET, code=window.code)
    session = fresh.open_session()
    reply = session.handle(recorded[0])
    assert decode(reply)[0] is Kind.INVITER_PAKE
    with pytest.raises(WrongCode):
        session.handle(recorded[1])
    assert fresh.failures == 1

    # The same message twice in one session is out of order.
    session = fresh.open_session()
    session.handle(recorded[0])
    with pytest.raises(PairingProtocolError):
        session.handle(recorded[0])
    assert fresh.failures == 1  # out of order is no guess at the code


@pytest.mark.asyncio
async def test_replayed_inviter_secret_fails_for_a_joiner() -> None:
    window = PairingWindow(MESH_SECRET)
    inviter_end, joiner_end = memory_channel_pair()
    await asyncio.gather(
        run_inviter(window, inviter_end, timeout_s=5),
        run_joiner(window.code, IDENTITY, joiner_end, timeout_s=5),
    )
    joiner = JoinerSession(window.code, IDENTITY)
    joiner.first_message()
    joiner.handle(inviter_end.sent[0])  # old PAKE reply: a key no inviter holds
    with pytest.raises(PairingProtocolError):
        joiner.handle(inviter_end.sent[1])


@pytest.mark.asyncio
async def test_garbage_idle_and_vanished_joiners_spend_no_tries() -> None:
    window = PairingWindow(MESH_SECRET)
    inviter_end, joiner_end = memory_channel_pair()
    await joiner_end.send(b"\x01\x01not-a-curve-point")
    with pytest.raises(PairingProtocolError):
        await run_inviter(window, inviter_end, timeout_s=5)
    inviter_end, joiner_end = memory_channel_pair()
    joiner_end.close()
    with pytest.raises(ChannelClosed):
        await run_inviter(window, inviter_end, timeout_s=5)
    for _ in range(5):
        inviter_end, _ = memory_channel_pair()
        with pytest.raises(ChannelClosed):
            await run_inviter(window, inviter_end, timeout_s=0.05)
    assert window.failures == 0 and window.is_open
    _, joiner = await _pair(window, window.code)
    assert not isinstance(joiner, BaseException) and window.state is WindowState.PAIRED


@pytest.mark.asyncio
async def test_a_newer_protocol_version_is_refused_with_a_clear_message() -> None:
    window = PairingWindow(MESH_SECRET)
    with pytest.raises(PairingProtocolError, match="update clinicmesh"):
        window.open_session().handle(b"\x02\x01whatever")


@pytest.mark.parametrize("size", [0, 1, 2, 32, 33, 34, 100])
def test_random_pake_messages_of_any_size_are_refused_or_fail_the_code(size: int) -> None:
    for _ in range(20):
        window = PairingWindow(MESH_SECRET)
        session = window.open_session()
        body = b"A" + secrets.token_bytes(size - 1) if size else b""
        try:
            reply = session.handle(bytes((1, Kind.JOINER_PAKE)) + body)
        except PairingProtocolError:
            assert window.failures == 0  # garbage learns nothing about the code
            continue
        assert decode(reply)[0] is Kind.INVITER_PAKE  # a valid point: the MAC step will fail
        with pytest.raises(WrongCode):
            session.handle(bytes((1, Kind.JOINER_CONFIRM)) + secrets.token_bytes(32))
