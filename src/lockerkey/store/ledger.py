"""The SQLite ledger (``<data_dir>/locker.db``): connection, migrations and the engine's writes."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from lockerkey.core import ops
from lockerkey.core.layout import Layout
from lockerkey.core.model import Member, MemberStatus, Service
from lockerkey.core.roster import MemberRow
from lockerkey.core.state import Holder, LockerState, Pending
from lockerkey.store.schema import FOREIGN_KEYS_OFF, MIGRATIONS, SCHEMA_VERSION
from lockerkey.store.timestamps import parse_ts, ts, unflag
from lockerkey.store.writes import apply_op

__all__ = [
    "ImportResult",
    "Ledger",
    "LedgerError",
    "held_sql",
    "parse_ts",
    "ts",
    "write_members",
]


def held_sql(prefix: str = "") -> str:
    """SQL for "this rental's key is out of its slot, with that member".

    Active rentals, and abnormal ones where the member took an in-service locker's own key
    that was not theirs to take (NOT_ALLOWED_TAKEN) until it comes back. A key taken from a
    slot already set aside is of unknown identity: staff settle it, it is not "held".
    """
    p = prefix
    # The IN term is idx_rental_held's own condition, so SQLite may use that small index
    # (open and abnormal rentals only) instead of reading every past rental.
    return (
        f"({p}status IN ('active', 'abnormal') AND ({p}status = 'active'"
        f" OR ({p}error_code = 'NOT_ALLOWED_TAKEN'"
        f" AND {p}rental_verified = 1 AND {p}return_verified = 0)))"
    )


def sqlite_version() -> str:
    """The version of the SQLite library the ledger runs on (for the startup log)."""
    return sqlite3.sqlite_version


class LedgerError(Exception):
    """The ledger cannot be opened or used (corrupt, locked, newer schema, disk full)."""


P = ParamSpec("P")
R = TypeVar("R")


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn SQLite's exceptions into LedgerError at the store's edge, naming the file."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as err:
            where = args[0].path if args and isinstance(args[0], Ledger) else "ledger"
            raise LedgerError(f"{where}: {err}") from err

    return wrapper


@dataclass(frozen=True)
class ImportResult:
    """What an import changed."""

    inserted: int
    updated: int


class Ledger:
    """All reads and writes of locker.db; one connection, explicit transactions."""

    def __init__(self, conn: sqlite3.Connection, device_id: str, path: Path | None = None) -> None:
        self.conn = conn
        self.device_id = device_id
        self.path = path or Path(":memory:")

    @classmethod
    def open(cls, path: Path, device_id: str = "DEVICE_001") -> Ledger:
        """Open (creating if needed) and migrate the ledger at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as err:
            raise LedgerError(f"{path}: cannot open the ledger: {err}") from err
        conn.row_factory = sqlite3.Row
        ledger = cls(conn, device_id, path)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: with WAL, NORMAL may lose the last commits on power loss. Each commit here
            # records a key physically leaving or entering the cabinet; a commit lost to a
            # power cut would make the ledger disagree with the cabinet, so every commit is
            # synced (a few fsyncs per rental are cheap).
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            ledger.migrate()
        except sqlite3.Error as err:
            conn.close()
            raise LedgerError(f"{path}: unusable ledger: {err}") from err
        except LedgerError:  # a newer schema, a failed migration
            conn.close()
            raise
        return ledger

    @guarded
    def close(self) -> None:
        """Checkpoint and close."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @guarded
    def schema_version(self) -> int:
        """The ledger's ``PRAGMA user_version``."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @guarded
    def migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION; refuse a ledger from a newer lockerkey."""
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger schema version {version} is newer than this lockerkey "
                f"({SCHEMA_VERSION}); upgrade lockerkey"
            )
        for index in range(version, SCHEMA_VERSION):
            script = MIGRATIONS[index]
            if FOREIGN_KEYS_OFF not in script:
                self._run_migration(index, script)
                continue
            # A table rebuild (create new, copy, drop, rename): with foreign keys on, dropping
            # a referenced table fails. The PRAGMA is a no-op inside a transaction, so it is
            # switched around it, and the references are checked before the commit.
            enforced = self.conn.execute("PRAGMA foreign_keys").fetchone()[0]
            self.conn.execute("PRAGMA foreign_keys = OFF")
            try:
                self._run_migration(index, script, check_foreign_keys=True)
            finally:
                self.conn.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")

    def _run_migration(self, index: int, script: str, check_foreign_keys: bool = False) -> None:
        with self.transaction() as conn:
            for statement in _split_sql(script):
                conn.execute(statement)
            if check_foreign_keys:
                broken = conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    first = broken[0]
                    raise LedgerError(
                        f"{self.path}: migration {index + 1} would leave {len(broken)} broken"
                        f" reference(s) (first: {first[0]} row {first[1]} refers to a missing"
                        f" {first[2]}); the ledger stays at version {index}"
                    )
            conn.execute(f"PRAGMA user_version = {index + 1}")

    # ---- the engine's writes -------------------------------------------------------------

    def apply(self, writes: Sequence[ops.LedgerOp]) -> None:
        """Commit one Step's writes together, or none of them (LedgerError)."""
        if not writes:
            return
        try:
            with self.transaction() as conn:
                for op in writes:
                    apply_op(conn, self.device_id, op)
        except sqlite3.Error as err:
            raise LedgerError(f"ledger write failed, nothing of it was kept: {err}") from err

    @guarded
    def audit(self, kind: str, at: datetime, **details: object) -> None:
        """Record an event that did not come from the engine (adapter errors, imports)."""
        self.apply([ops.Audit(kind, at, details=details)])

    @guarded
    def reset_daily_counts(self, day_start: datetime) -> int:
        """Zero the counts of members whose last rental was before local midnight."""
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE members SET daily_rental_count = 0"
                " WHERE daily_rental_count != 0"
                " AND (last_rental_time IS NULL OR last_rental_time < ?)",
                (ts(day_start),),
            )
        return cur.rowcount

    # ---- members ---------------------------------------------------------------------------

    @guarded
    def get_member(self, member_id: str) -> Member | None:
        """The member with this barcode, or None."""
        row = self.conn.execute(
            "SELECT * FROM members WHERE member_id = ?", (member_id,)
        ).fetchone()
        return None if row is None else _member(row)

    @guarded
    def upsert_members(self, rows: Sequence[MemberRow], at: datetime) -> ImportResult:
        """Insert or update members in one transaction; rental state and history are untouched."""
        with self.transaction() as c:
            return write_members(c, rows, at)

    # ---- what the engine starts from ------------------------------------------------------

    @guarded
    def sync_layout(self, layout: Layout) -> None:
        """Make locker_status hold one row per configured locker (state rows are kept)."""
        with self.transaction() as c:
            c.execute("UPDATE locker_status SET configured = 0")
            for spec in layout.lockers.values():
                c.execute(
                    "INSERT INTO locker_status (locker_number, cabinet, slot, zone, key_barcode,"
                    " configured) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT(locker_number) DO UPDATE"
                    " SET cabinet = excluded.cabinet, slot = excluded.slot, zone = excluded.zone,"
                    " key_barcode = excluded.key_barcode, configured = 1",
                    (
                        spec.number,
                        layout.cabinets[spec.cabinet].name,
                        spec.slot,
                        spec.zone,
                        spec.key_code,
                    ),
                )

    @guarded
    def load_lockers(self) -> dict[str, LockerState]:
        """Each configured locker's last known state, holder and last rental time."""
        states: dict[str, LockerState] = {}
        # The last rental is one index probe per locker (idx_rental_last_taken), whatever the
        # number of past rentals.
        for row in self.conn.execute(
            "SELECT l.*, (SELECT MAX(r.rental_sensor_time) FROM rentals r"
            " WHERE r.locker_number = l.locker_number AND r.rental_verified = 1) AS last_taken"
            " FROM locker_status l WHERE l.configured = 1"
        ):
            states[row["locker_number"]] = LockerState(
                key=unflag(row["sensor_status"]),
                door=unflag(row["door_status"]),
                locked=unflag(row["lock_status"]),
                service=Service(row["service"]),
                reason=row["service_reason"],
                last_rented=parse_ts(row["last_taken"]) if row["last_taken"] else None,
            )
        for row in self.conn.execute(
            f"SELECT transaction_id, member_id, locker_number FROM rentals WHERE {held_sql()}"
        ):
            if row["locker_number"] in states:
                states[row["locker_number"]].holder = Holder(
                    row["member_id"], row["transaction_id"]
                )
        return states

    @guarded
    def load_unresolved(self, layout: Layout) -> list[Pending]:
        """Sessions a restart or link loss cut short, for the engine to resolve."""
        every = set(range(len(layout.cabinets)))
        pending: list[Pending] = []
        for row in self.conn.execute(
            "SELECT * FROM active_transactions WHERE status IN ('active', 'interrupted')"
            " ORDER BY start_time"
        ):
            locker = row["locker_number"]
            spec = layout.lockers.get(locker) if locker else None
            pending.append(
                Pending(
                    tx_id=row["transaction_id"],
                    kind=row["transaction_type"],
                    member_id=row["member_id"],
                    locker=locker,
                    cabinets={spec.cabinet} if spec else set(every),
                    started=_required_ts(row["start_time"]),
                    rental_tx=row["rental_transaction_id"],
                    member=self.get_member(row["member_id"]),
                    phase=row["phase"] or "take_key",
                )
            )
        return pending


# The update names only master-data columns: currently_renting, counts and history belong to
# the kiosk, never to the member list (no INSERT OR REPLACE). A member marked 'removed' who is
# back in the list gets the list's status again.
_UPSERT_MEMBER = (
    "INSERT INTO members (member_id, member_name, status, expiry_date, gender,"
    " category, zone, attributes, sync_date, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(member_id) DO UPDATE SET member_name = excluded.member_name,"
    " status = excluded.status, expiry_date = excluded.expiry_date,"
    " gender = excluded.gender, category = excluded.category, zone = excluded.zone,"
    " attributes = excluded.attributes, sync_date = excluded.sync_date,"
    " updated_at = excluded.updated_at"
)


def write_members(
    conn: sqlite3.Connection, rows: Sequence[MemberRow], at: datetime
) -> ImportResult:
    """Upsert member-master rows inside the caller's transaction (the import and the sync)."""
    stamp = ts(at)
    params = [
        (
            r.barcode,
            r.name,
            str(r.status),
            _day(r.expiry_date),
            r.gender,
            r.category,
            r.zone,
            json.dumps(dict(r.extra), ensure_ascii=False, sort_keys=True),
            stamp,
            stamp,
            stamp,
        )
        for r in rows
    ]
    before = conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    conn.executemany(_UPSERT_MEMBER, params)
    inserted = conn.execute("SELECT COUNT(*) FROM members").fetchone()[0] - before
    return ImportResult(inserted, len(rows) - inserted)


def _required_ts(text: str) -> datetime:
    value = parse_ts(text)
    assert value is not None
    return value


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _member(row: sqlite3.Row) -> Member:
    attributes: dict[str, str] = {
        str(k): str(v) for k, v in json.loads(row["attributes"] or "{}").items()
    }
    for name in ("gender", "category", "zone"):
        if row[name]:
            attributes[name] = row[name]
    return Member(
        member_id=row["member_id"],
        name=row["member_name"],
        status=MemberStatus(row["status"]),
        expiry_date=date.fromisoformat(row["expiry_date"]) if row["expiry_date"] else None,
        currently_renting=row["currently_renting"],
        daily_rental_count=row["daily_rental_count"],
        last_rental_time=parse_ts(row["last_rental_time"]),
        attributes=attributes,
    )


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN ... END)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
