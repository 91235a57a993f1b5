"""PINs, server-side sessions, CSRF tokens and idle lock (lock-out: ui.lockout).

Sessions live only in this process (a session is bound to the device that served it and, by
its User-Agent, to the browser that opened it). Nothing here touches documents.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEYED, UNKEYED = "scrypt-k", "scrypt"
# New PINs: a million choices, so five tries a lock-out leave a guess hopeless.
PIN_MIN_DIGITS = 6
OLD_PIN_MIN_DIGITS = 4  # still accepted at login, then the user must choose a new one
PIN_MAX_DIGITS = 8
IDLE_LOCK_S = 600.0
SESSION_MAX_S = 12 * 3600.0
MAX_SESSIONS = 1000


def hash_pin(pin: str, key: bytes = b"", salt: bytes | None = None) -> str:
    """`scrypt-k$N$r$p$salt$hash` (base64) of a PIN with a fresh random salt.

    With a `key` (the node derives it from the mesh key) the scrypt digest is also keyed by
    HMAC, so a copy of the directory's hashes alone can't be searched offline; without one the
    old unkeyed `scrypt$…` form is made (the stand-alone UI and its tests).
    """
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = _digest(pin, key, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    scheme = KEYED if key else UNKEYED
    enc = base64.b64encode
    return f"{scheme}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${enc(salt).decode()}${enc(digest).decode()}"


def check_pin(pin: str, stored: str, key: bytes = b"") -> bool:
    """Whether `pin` matches a hash made by `hash_pin` with `key` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme not in (KEYED, UNKEYED) or (scheme == KEYED and not key):
            return False
        got = _digest(pin, key if scheme == KEYED else b"", base64.b64decode(salt),
                      int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def is_keyed(stored: str) -> bool:
    """Whether a stored hash is keyed (else it is re-made at the user's next login)."""
    return stored.startswith(KEYED + "$")


def _digest(pin: str, key: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return hmac.new(key, digest, hashlib.sha256).digest() if key else digest


async def async_hash_pin(pin: str, key: bytes = b"") -> str:
    """`hash_pin` in a worker thread: scrypt takes ~40 ms, too long for the event loop."""
    return await asyncio.to_thread(hash_pin, pin, key)


async def async_check_pin(pin: str, stored: str, key: bytes = b"") -> bool:
    """`check_pin` in a worker thread."""
    return await asyncio.to_thread(check_pin, pin, stored, key)


def pin_is_acceptable(pin: str) -> bool:
    """A new PIN is 6–8 digits."""
    return pin.isdigit() and pin.isascii() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS


def pin_is_outdated(pin: str) -> bool:
    """A PIN set before 6 digits were required: it logs in once, then must be replaced."""
    return len(pin) < PIN_MIN_DIGITS


@dataclass(slots=True)
class Session:
    """One browser's session; anonymous (user_id None) until login."""

    id: str
    csrf: str
    agent: str
    created: float
    last_active: float
    user_id: str | None = None
    locked: bool = False
    must_change_pin: bool = False
    language: str | None = None


@dataclass(slots=True)
class Sessions:
    """Server-side sessions (wrong-PIN counters are in ui.lockout)."""

    clock: Callable[[], float]
    idle_lock_s: float = IDLE_LOCK_S
    _sessions: dict[str, Session] = field(default_factory=dict)

    def new(self, agent: str) -> Session:
        """A fresh anonymous session with its own CSRF token."""
        now = self.clock()
        if len(self._sessions) >= MAX_SESSIONS:
            self._drop_oldest()
        session = Session(
            id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), agent=_agent_key(agent),
            created=now, last_active=now,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, agent: str) -> Session | None:
        """The live session for this cookie and browser, or None (unknown, expired, other UA)."""
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        now = self.clock()
        if session.agent != _agent_key(agent) or now - session.created > SESSION_MAX_S:
            self._sessions.pop(session.id, None)
            return None
        if session.user_id and now - session.last_active > self.idle_lock_s:
            session.locked = True
        return session

    def touch(self, session: Session) -> None:
        """Record activity (an unlocked page view or form post)."""
        session.last_active = self.clock()

    def log_in(self, session: Session, user_id: str, language: str | None) -> Session:
        """A new session id for the logged-in user (the old id is dropped: no fixation)."""
        self._sessions.pop(session.id, None)
        fresh = self.new(session.agent)
        fresh.agent = session.agent
        fresh.user_id = user_id
        fresh.language = language
        return fresh

    def log_out(self, session: Session) -> None:
        """Forget the session."""
        self._sessions.pop(session.id, None)

    def _drop_oldest(self) -> None:
        oldest = min(self._sessions.values(), key=lambda s: s.last_active)
        self._sessions.pop(oldest.id, None)


def _agent_key(agent: str) -> str:
    return hashlib.sha256(agent.encode(errors="replace")).hexdigest()[:32]


def csrf_ok(session: Session, token: str | None) -> bool:
    """Whether a posted CSRF token is the session's (constant-time)."""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), (token or "").encode())
