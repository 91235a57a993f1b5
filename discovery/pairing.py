"""Pairing a new device with a 6-digit code: the inviter's window and both sides of the PAKE.

Sans-I/O: sessions turn one message into the next, the window reads time only through the clock
it is given. `discovery.pairing_channel` runs them over a transport. The flow:

    joiner                                   inviter (device already in the mesh)
    JOINER_PAKE  (SPAKE2 A)          →
                                     ←       INVITER_PAKE (SPAKE2 B)
    JOINER_CONFIRM (MAC)             →       wrong MAC: a failed attempt, FAILED, nothing sent
                                     ←       INVITER_SECRET (MAC + sealed mesh secret)
    JOINER_IDENTITY (sealed)         →
                                     ←       DONE

A wrong code is only learnt from the joiner's MAC, before anything secret leaves the inviter;
each session uses fresh SPAKE2 scalars, so a message replayed from another session fails.
Only a wrong MAC spends one of the window's tries: a connection that idles, vanishes or sends
garbage learns nothing about the code, so it costs nothing (the peer port bounds how many
connections and for how long). Sessions run side by side; `handle` is synchronous and checks the
window first, so however many confirmations arrive together, at most MAX_WRONG_CODES are judged.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from discovery.errors import PairingClosed, PairingError, PairingProtocolError, WrongCode
from discovery.pairing_wire import CONFIRMATION_BYTES, Kind, SessionKeys, decode, encode, macs_match

if TYPE_CHECKING:  # spake2 is imported when a pairing session starts, not by every node
    from spake2 import SPAKE2_A, SPAKE2_B

PAIRING_WINDOW_S = 300.0  # a code shown on screen is valid for 5 minutes
MAX_WRONG_CODES = 3  # then the window closes and a new code must be shown
CODE_DIGITS = 6
PAKE_MESSAGE_BYTES = 33  # side byte + an Ed25519 group element
_JOINER_ID = b"clinicmesh-joiner"
_INVITER_ID = b"clinicmesh-inviter"

Clock = Callable[[], float]


class WindowState(enum.Enum):
    """Where a pairing window is in its life."""

    OPEN = "open"
    PAIRED = "paired"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"  # too many wrong codes
    CLOSED = "closed"  # closed by the user


def new_code() -> str:
    """A fresh random 6-digit code, leading zeros kept."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalize_code(typed: str) -> str:
    """The code as typed ("123 456", "123-456") reduced to its 6 digits, or WrongCode."""
    digits = "".join(ch for ch in typed if ch not in " -")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        raise WrongCode(f"a pairing code has {CODE_DIGITS} digits, as shown on the other device")
    return digits


class PairingWindow:
    """The inviting device's offer: one code, one new device, 5 minutes, 3 wrong codes at most."""

    def __init__(
        self,
        mesh_secret: bytes,
        *,
        clock: Clock = time.monotonic,
        lifetime_s: float = PAIRING_WINDOW_S,
        max_wrong_codes: int = MAX_WRONG_CODES,
        code: str | None = None,
    ) -> None:
        self.code = normalize_code(code) if code is not None else new_code()
        self.mesh_secret = mesh_secret
        self.failures = 0
        self.joiner_identity: bytes | None = None
        self._clock = clock
        self._expires_at = clock() + lifetime_s
        self._max_wrong_codes = max_wrong_codes
        self._closed_by_user = False

    @property
    def state(self) -> WindowState:
        """The window's state now (expiry is read from the clock)."""
        if self.joiner_identity is not None:
            return WindowState.PAIRED
        if self._closed_by_user:
            return WindowState.CLOSED
        if self.failures >= self._max_wrong_codes:
            return WindowState.EXHAUSTED
        if self._clock() >= self._expires_at:
            return WindowState.EXPIRED
        return WindowState.OPEN

    @property
    def is_open(self) -> bool:
        """True while a new device may still pair with this code."""
        return self.state is WindowState.OPEN

    def remaining_s(self) -> float:
        """Seconds until the code expires (0 once it has)."""
        return max(0.0, self._expires_at - self._clock())

    def close(self) -> None:
        """Withdraw the code (the user cancelled the invitation)."""
        self._closed_by_user = True

    def open_session(self) -> InviterSession:
        """A session for one joiner's attempt, or PairingClosed when the window is not open."""
        self.check_open()
        return InviterSession(self)

    def check_open(self) -> None:
        """Raise PairingClosed, saying why, unless the window is open."""
        state = self.state
        if state is WindowState.OPEN:
            return
        reasons = {
            WindowState.PAIRED: "this code was already used to pair a device",
            WindowState.EXPIRED: "the code expired",
            WindowState.EXHAUSTED: "the code was closed after too many wrong attempts",
            WindowState.CLOSED: "the invitation was cancelled",
        }
        raise PairingClosed(f"{reasons[state]}: show a new code on the inviting device")

    def _wrong_code(self) -> None:
        self.failures += 1

    def _paired(self, joiner_identity: bytes) -> None:
        self.joiner_identity = joiner_identity


class InviterSession:
    """The inviter's side of one attempt; `handle` maps each joiner message to the reply."""

    def __init__(self, window: PairingWindow) -> None:
        self._window = window
        self._expect = Kind.JOINER_PAKE
        self._keys: SessionKeys | None = None
        self._ended = False

    @property
    def ended(self) -> bool:
        """True once the attempt has succeeded or failed."""
        return self._ended

    def handle(self, message: bytes) -> bytes:
        """The reply to one joiner message; a PairingError ends the attempt (a wrong code
        also spends one of the window's tries)."""
        try:
            self._window.check_open()
            kind, body = decode(message)
            if kind is not self._expect:
                raise PairingProtocolError(f"unexpected {kind.name} message (replayed?)")
            return self._step(kind, body)
        except PairingError:
            self.abandon()
            raise

    def _step(self, kind: Kind, body: bytes) -> bytes:
        if kind is Kind.JOINER_PAKE:
            from spake2 import SPAKE2_B

            pake = SPAKE2_B(self._window.code.encode(), idA=_JOINER_ID, idB=_INVITER_ID)
            reply = pake.start()
            key = _finish_pake(pake, body)
            self._keys = SessionKeys.derive(key, body, reply)
            self._expect = Kind.JOINER_CONFIRM
            return encode(Kind.INVITER_PAKE, reply)
        keys = self._keys
        assert keys is not None
        if kind is Kind.JOINER_CONFIRM:
            if not macs_match(keys.joiner_mac(), body):
                self._window._wrong_code()
                raise WrongCode("wrong code: check the 6 digits on the inviting device")
            self._expect = Kind.JOINER_IDENTITY
            sealed = keys.seal_for_joiner(self._window.mesh_secret)
            return encode(Kind.INVITER_SECRET, keys.inviter_mac() + sealed)
        identity = keys.open_from_joiner(body)
        self._ended = True
        self._window._paired(identity)
        self._expect = Kind.FAILED  # nothing more is accepted in this session
        return encode(Kind.DONE)

    def abandon(self) -> None:
        """End this attempt (safe twice); only a wrong code, judged in `handle`, is counted."""
        self._ended = True


class JoinerSession:
    """The new device's side: `first_message`, then `handle` each reply until `mesh_secret`."""

    def __init__(self, code: str, identity: bytes) -> None:
        from spake2 import SPAKE2_A

        self._pake = SPAKE2_A(normalize_code(code).encode(), idA=_JOINER_ID, idB=_INVITER_ID)
        self._identity = identity
        self._first: bytes | None = None
        self._keys: SessionKeys | None = None
        self._secret: bytes | None = None
        self._expect = Kind.INVITER_PAKE
        self.mesh_secret: bytes | None = None  # set once the inviter confirmed with DONE

    def first_message(self) -> bytes:
        """The opening PAKE message (call once)."""
        self._first = self._pake.start()
        return encode(Kind.JOINER_PAKE, self._first)

    def handle(self, message: bytes) -> bytes | None:
        """The reply to one inviter message, or None once pairing is complete."""
        kind, body = decode(message)
        if kind is not self._expect or self._first is None:
            raise PairingProtocolError(f"unexpected {kind.name} message (replayed?)")
        if kind is Kind.INVITER_PAKE:
            key = _finish_pake(self._pake, body)
            self._keys = SessionKeys.derive(key, self._first, body)
            self._expect = Kind.INVITER_SECRET
            return encode(Kind.JOINER_CONFIRM, self._keys.joiner_mac())
        keys = self._keys
        assert keys is not None
        if kind is Kind.INVITER_SECRET:
            mac, sealed = body[:CONFIRMATION_BYTES], body[CONFIRMATION_BYTES:]
            if not macs_match(keys.inviter_mac(), mac):
                raise PairingProtocolError("the inviting device could not prove the code")
            self._secret = keys.open_from_inviter(sealed)
            self._expect = Kind.DONE
            return encode(Kind.JOINER_IDENTITY, keys.seal_for_inviter(self._identity))
        self.mesh_secret = self._secret
        self._expect = Kind.FAILED
        return None


def _finish_pake(pake: SPAKE2_A | SPAKE2_B, body: bytes) -> bytes:
    """The PAKE key from the other side's message, or PairingProtocolError if it is broken."""
    # spake2 decodes elements of any length, so the exact length is checked here.
    if len(body) != PAKE_MESSAGE_BYTES:
        raise PairingProtocolError("a PAKE message of the wrong length")
    try:
        key: bytes = pake.finish(body)
    except Exception as error:  # spake2 raises plain Exception subclasses (NotOnCurve) too
        raise PairingProtocolError(f"a broken PAKE message ({type(error).__name__})") from None
    return key
