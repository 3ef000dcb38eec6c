"""Logins of the staff console: sessions in memory, growing delays after failed logins.

Nothing here touches the network or the ledger; the clock is passed in (monotonic seconds),
so tests move time by hand.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from lockerkey.store import accounts

Clock = Callable[[], float]

MAX_SESSIONS = 500  # a console for a handful of staff: more means something is wrong
FREE_FAILURES = 3  # failed logins allowed before delays begin
MAX_DELAY_S = 60.0
FORGET_S = 3600.0  # failures older than this are forgotten
MAX_TRACKED = 10_000  # names and addresses with failures, at most


def new_token() -> str:
    """A fresh random token (session ids, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def same(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def dummy_hash() -> str:
    """A well-formed hash of no password: verifying against it costs what a real one does.

    Used for account names that do not exist, so a failed login takes as long either way and
    the answer's timing does not tell which names are accounts.
    """
    salt = base64.b64encode(secrets.token_bytes(accounts.SALT_BYTES)).decode()
    key = base64.b64encode(secrets.token_bytes(accounts.KEY_BYTES)).decode()
    return f"scrypt${accounts.SCRYPT_N}${accounts.SCRYPT_R}${accounts.SCRYPT_P}${salt}${key}"


@dataclass(frozen=True)
class Flash:
    """A message for the next page: a text key, rendered in that page's language."""

    level: str  # success | error
    key: str  # a console text (texts.TEXTS) or, with ``engine``, a core message (Msg)
    params: Mapping[str, object] = field(default_factory=dict)
    engine: bool = False


@dataclass
class Session:
    """One logged-in account: its CSRF token, when it was last used, messages to show."""

    token: str
    account: str
    version: str  # the account's updated_at at login: a password change ends the session
    csrf: str
    last_seen: float
    flashes: list[Flash] = field(default_factory=list)

    def flash(self, level: str, key: str, **params: object) -> None:
        """Keep a console text (``success`` or ``error``) for the next page shown."""
        self.flashes.append(Flash(level, key, params))

    def flash_reply(self, ok: bool, msg: str, params: Mapping[str, object]) -> None:
        """Keep the engine's answer to an action for the next page shown."""
        self.flashes.append(Flash("success" if ok else "error", msg, dict(params), engine=True))

    def take_flashes(self) -> list[Flash]:
        """The kept messages, once."""
        taken, self.flashes = self.flashes, []
        return taken


class Sessions:
    """Server-side sessions by token; each expires after ``idle_s`` without a request."""

    def __init__(self, idle_s: float, clock: Clock) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self._by_token: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._by_token)

    def create(self, account: str, version: str) -> Session:
        """A new session for a successful login (a new token every time)."""
        self.prune()
        if len(self._by_token) >= MAX_SESSIONS:
            oldest = min(self._by_token.values(), key=lambda s: s.last_seen)
            del self._by_token[oldest.token]
        session = Session(new_token(), account, version, new_token(), self.clock())
        self._by_token[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token``, its idle time restarted; None when unknown or expired."""
        session = self._by_token.get(token) if token else None
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_s:
            del self._by_token[session.token]
            return None
        session.last_seen = now
        return session

    def drop(self, token: str) -> None:
        """End a session (logout, or its account changed)."""
        self._by_token.pop(token, None)

    def prune(self) -> None:
        """Forget every expired session."""
        now = self.clock()
        for token in [t for t, s in self._by_token.items() if now - s.last_seen > self.idle_s]:
            del self._by_token[token]


def delay_after(failures: int) -> float:
    """Seconds a name or address must wait after ``failures`` failed logins in a row."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY_S)


@dataclass
class _Record:
    failures: int
    last: float


class Throttle:
    """Failed logins per key (an account name, a client address) and the wait they impose."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def wait(self, keys: Iterable[str]) -> float:
        """Seconds until a login may be tried for all of ``keys`` (0: now)."""
        now = self.clock()
        longest = 0.0
        for key in keys:
            record = self._records.get(key)
            if record is not None:
                longest = max(longest, record.last + delay_after(record.failures) - now)
        return longest

    def failed(self, keys: Iterable[str]) -> None:
        """Count a failed login against every key."""
        now = self.clock()
        self._forget(now)
        for key in keys:
            record = self._records.setdefault(key, _Record(0, now))
            record.failures += 1
            record.last = now

    def succeeded(self, keys: Iterable[str]) -> None:
        """A successful login clears the keys' failures."""
        for key in keys:
            self._records.pop(key, None)

    def _forget(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last > FORGET_S]
        for key in stale:
            del self._records[key]
        while len(self._records) >= MAX_TRACKED:
            oldest = min(self._records, key=lambda k: self._records[k].last)
            del self._records[oldest]
