"""Staff accounts of the admin console: scrypt password hashes in ``admin_accounts``.

A hash is stored as ``scrypt$n$r$p$salt_b64$hash_b64``; the parameters travel with it, so a
later change of the defaults still verifies older hashes. Hashing is slow and memory-hard on
purpose (about 32 MiB per call): callers on the event loop run it on a thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from lockerkey.store.ledger import Ledger, guarded, parse_ts, ts

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MAXMEM = 64 * 1024 * 1024
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # longer inputs only cost hashing time; nobody types more
MAX_NAME = 32
# When verifying, memory stays within MAXMEM and p within this, so a doctored row cannot make
# one login eat the machine's memory or minutes of CPU.
MAX_P = 16


class AccountError(ValueError):
    """An account name or password that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Account:
    """One staff account (never its hash)."""

    name: str
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    """The name if it is usable: 1-32 printable characters without spaces."""
    if not 1 <= len(name) <= MAX_NAME:
        raise AccountError(f"an account name has 1 to {MAX_NAME} characters")
    if not name.isprintable() or any(ch.isspace() for ch in name):
        raise AccountError("an account name has no spaces or control characters")
    return name


def check_password(password: str) -> str:
    """The password if it is long enough (and not absurdly long)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """The scrypt key of ``password`` (UTF-8) with these parameters, within MAXMEM."""
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAXMEM, dklen=dklen
    )


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A new ``scrypt$n$r$p$salt$hash`` string for ``password`` (random salt unless given)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a stored hash; False for any malformed hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return False
    if not (n > 1 and r > 0 and 0 < p <= MAX_P and 0 < len(expected) <= 64 and salt):
        return False
    try:
        key = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, TypeError, OverflowError, MemoryError):  # bad n, memory > MAXMEM
        return False
    return hmac.compare_digest(key, expected)


@guarded
def set_password(ledger: Ledger, name: str, password_hash: str, at: datetime) -> bool:
    """Create the account or replace its password hash; True when it was created."""
    stamp = ts(at)
    with ledger.transaction() as c:
        existed = c.execute("SELECT 1 FROM admin_accounts WHERE name = ?", (name,)).fetchone()
        c.execute(
            "INSERT INTO admin_accounts (name, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE"
            " SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            (name, password_hash, stamp, stamp),
        )
    return existed is None


@guarded
def password_hash(ledger: Ledger, name: str) -> tuple[str, str] | None:
    """The account's (hash, updated_at), or None when there is no such account."""
    row = ledger.conn.execute(
        "SELECT password_hash, updated_at FROM admin_accounts WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


@guarded
def account_version(ledger: Ledger, name: str) -> str | None:
    """When the account's password last changed (None: the account is gone)."""
    row = ledger.conn.execute(
        "SELECT updated_at FROM admin_accounts WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else str(row[0])


@guarded
def list_accounts(ledger: Ledger) -> list[Account]:
    """Every account, by name."""
    accounts: list[Account] = []
    for row in ledger.conn.execute(
        "SELECT name, created_at, updated_at FROM admin_accounts ORDER BY name"
    ):
        created, updated = parse_ts(row[1]), parse_ts(row[2])
        assert created is not None and updated is not None  # NOT NULL columns
        accounts.append(Account(row[0], created, updated))
    return accounts


@guarded
def remove_account(ledger: Ledger, name: str) -> bool:
    """Delete the account; False when there was none."""
    with ledger.transaction() as c:
        gone = c.execute("DELETE FROM admin_accounts WHERE name = ?", (name,)).rowcount
    return gone > 0
