"""Read-side queries of the ledger: the locker table, invariant checks and export bookkeeping."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lockerkey.store import sync_store
from lockerkey.store.ledger import Ledger, guarded, held_sql


@guarded
def locker_table(ledger: Ledger) -> list[dict[str, Any]]:
    """One dict per configured locker, in cabinet and slot order."""
    # Queries below splice in only the constant fragment from held_sql(), never data.
    rows = ledger.conn.execute(
        "SELECT l.locker_number, l.cabinet, l.slot, l.zone, l.key_barcode, l.sensor_status,"
        " l.door_status, l.lock_status, l.service, l.service_reason, l.current_transaction,"
        " r.member_id, m.member_name, r.rental_sensor_time, r.status AS rental_status"
        " FROM locker_status l"
        f" LEFT JOIN rentals r ON r.locker_number = l.locker_number AND {held_sql('r.')}"
        " LEFT JOIN members m ON m.member_id = r.member_id"
        " WHERE l.configured = 1 ORDER BY l.cabinet, l.slot"
    ).fetchall()
    table: list[dict[str, Any]] = []
    for row in rows:
        key = {1: "in", 0: "out"}.get(row["sensor_status"], "unknown")
        table.append(
            {
                "locker": row["locker_number"],
                "cabinet": row["cabinet"],
                "slot": row["slot"],
                "zone": row["zone"],
                "key_barcode": row["key_barcode"],
                "key": key,
                "locked": None if row["lock_status"] is None else bool(row["lock_status"]),
                "door_open": None if row["door_status"] is None else bool(row["door_status"]),
                "service": row["service"],
                "service_reason": row["service_reason"],
                "member_id": row["member_id"],
                "member_name": row["member_name"],
                "rented_since": row["rental_sensor_time"],
                "rental_status": row["rental_status"],
                "in_session": row["current_transaction"],
            }
        )
    return table


def integrity_problems(ledger: Ledger) -> list[str]:
    """SQLite's own integrity and foreign-key checks, as readable lines."""
    try:
        problems = [
            f"integrity_check: {row[0]}"
            for row in ledger.conn.execute("PRAGMA integrity_check")
            if row[0] != "ok"
        ]
    except sqlite3.DatabaseError as err:  # a badly damaged file makes the check itself fail
        return [f"integrity_check: {err}"]
    problems += [
        f"foreign key: {row[0]} row {row[1]} refers to a missing {row[2]}"
        for row in ledger.conn.execute("PRAGMA foreign_key_check")
    ]
    return problems


@guarded
def invariant_problems(ledger: Ledger) -> list[str]:
    """Every broken ledger invariant (see docs/data-model.md), as readable lines."""
    q = ledger.conn.execute
    problems: list[str] = []
    for row in q(
        f"SELECT locker_number, COUNT(*) AS n FROM rentals WHERE {held_sql()}"
        " GROUP BY locker_number HAVING n > 1"
    ):
        problems.append(f"locker {row[0]}: its key is out on {row[1]} rentals at once")
    for row in q(
        "SELECT member_id, COUNT(*) AS n FROM rentals WHERE status = 'active'"
        " GROUP BY member_id HAVING n > 1"
    ):
        problems.append(f"member {row[0]}: {row[1]} active rentals")
    for row in q(
        "SELECT m.member_id, m.currently_renting, r.locker_number FROM members m"
        " LEFT JOIN rentals r ON r.member_id = m.member_id AND r.status = 'active'"
        " WHERE m.currently_renting IS NOT r.locker_number"
    ):
        problems.append(
            f"member {row[0]}: currently_renting is {row[1]!r} but the active rental is {row[2]!r}"
        )
    for row in q(
        "SELECT rental_id, status FROM rentals WHERE"
        " (status IN ('active', 'returned') AND rental_verified = 0)"
        " OR (status = 'returned' AND return_verified = 0"
        " AND error_code IS NOT 'FORCED_RETURN')"  # staff closed it by hand: no sensor saw it
        " OR (rental_verified = 1 AND rental_sensor_time IS NULL)"
        " OR (return_verified = 1 AND return_sensor_time IS NULL)"
    ):
        problems.append(f"rental {row[0]}: {row[1]} without the sensor confirmation it needs")
    for row in q(
        "SELECT r.rental_id FROM rentals r WHERE r.status = 'pending' AND NOT EXISTS"
        " (SELECT 1 FROM active_transactions t WHERE t.transaction_id = r.transaction_id"
        " AND t.status IN ('active', 'interrupted'))"
    ):
        problems.append(f"rental {row[0]}: pending outside any open session")
    for row in q(
        "SELECT l.locker_number, l.current_member, r.member_id FROM locker_status l"
        f" LEFT JOIN rentals r ON r.locker_number = l.locker_number AND {held_sql('r.')}"
        " WHERE l.configured = 1 AND l.current_member IS NOT r.member_id"
    ):
        problems.append(
            f"locker {row[0]}: locker_status names {row[1]!r} but the key is out with {row[2]!r}"
        )
    active = q("SELECT COUNT(*) FROM active_transactions WHERE status = 'active'").fetchone()[0]
    if active > 1:
        problems.append(f"{active} sessions are active at once")
    return problems


@guarded
def rental_count(ledger: Ledger) -> int:
    """How many rentals the ledger holds, of any status."""
    return int(ledger.conn.execute("SELECT COUNT(*) FROM rentals").fetchone()[0])


@dataclass(frozen=True)
class RentalRecord:
    """A rental row to export, with the revision it was read at."""

    rental_id: int
    revision: int
    row: dict[str, Any]


@guarded
def unsynced_rentals(ledger: Ledger, limit: int = 1000) -> list[RentalRecord]:
    """Rentals not yet exported (new or changed since their last export), oldest first."""
    rows = ledger.conn.execute(
        "SELECT * FROM rentals WHERE sync_status = 0 AND status != 'pending'"
        " ORDER BY rental_id LIMIT ?",
        (limit,),
    ).fetchall()
    return [RentalRecord(row["rental_id"], row["revision"], dict(row)) for row in rows]


def mark_synced(ledger: Ledger, records: Iterable[RentalRecord]) -> int:
    """Mark exported rows synced, but only where nobody changed them since they were read."""
    return sync_store.mark_revisions(ledger, ((r.rental_id, r.revision) for r in records))
