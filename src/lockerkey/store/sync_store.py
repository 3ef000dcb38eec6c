"""The ledger side of the member-sheet sync: the sync log, the member update, the rental upload.

A sync run (``sync/runner.py``) reads the member sheet, applies it here in one transaction
(``apply_members``), uploads the rentals not yet exported (``rentals_for_upload`` then
``mark_uploaded``) and records itself in ``sync_runs`` (``start_run`` ... ``finish_run``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lockerkey.core.model import MemberStatus
from lockerkey.core.roster import MemberRow
from lockerkey.store.ledger import Ledger, LedgerError, guarded, parse_ts, ts, write_members

__all__ = [
    "COUNTS",
    "TRIGGERS",
    "MemberSync",
    "SyncRun",
    "UploadRow",
    "apply_members",
    "fail_stale_runs",
    "finish_run",
    "last_success",
    "mark_revisions",
    "mark_uploaded",
    "recent_runs",
    "rentals_for_upload",
    "running",
    "start_run",
    "upload_query_plan",
]

TRIGGERS = ("schedule", "startup", "manual", "cli")
FINAL_STATUSES = ("ok", "failed")
# The count columns of sync_runs, in table order (the keys finish_run accepts).
COUNTS = (
    "members_read",
    "members_added",
    "members_updated",
    "members_removed",
    "bad_rows",
    "rentals_appended",
    "rentals_updated",
)
INTERRUPTED = "interrupted"
# The column names come from the COUNTS constant, never from a caller.
_FINISH_SQL = (
    "UPDATE sync_runs SET ended_at = ?, status = ?, "
    + ", ".join(f"{name} = ?" for name in COUNTS)
    + ", api_calls = ?, error = ?, details = ? WHERE run_id = ?"
)

# ---- the sync log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncRun:
    """One row of ``sync_runs``; counts are None when the run never got that far."""

    run_id: int
    started_at: datetime
    ended_at: datetime | None
    trigger: str
    backend: str
    status: str  # running, ok or failed
    members_read: int | None
    members_added: int | None
    members_updated: int | None
    members_removed: int | None
    bad_rows: int | None
    rentals_appended: int | None
    rentals_updated: int | None
    api_calls: int | None
    error: str | None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int | None]:
        """The count columns by name (as ``finish_run`` takes them)."""
        return {name: getattr(self, name) for name in COUNTS}


def _run(row: sqlite3.Row) -> SyncRun:
    started = parse_ts(row["started_at"])
    assert started is not None  # NOT NULL
    return SyncRun(
        run_id=row["run_id"],
        started_at=started,
        ended_at=parse_ts(row["ended_at"]),
        trigger=row["trigger"],
        backend=row["backend"],
        status=row["status"],
        members_read=row["members_read"],
        members_added=row["members_added"],
        members_updated=row["members_updated"],
        members_removed=row["members_removed"],
        bad_rows=row["bad_rows"],
        rentals_appended=row["rentals_appended"],
        rentals_updated=row["rentals_updated"],
        api_calls=row["api_calls"],
        error=row["error"],
        details=json.loads(row["details"] or "{}"),
    )


@guarded
def start_run(ledger: Ledger, trigger: str, backend: str, at: datetime) -> int:
    """Record a sync run as ``running``; its run_id."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown sync trigger {trigger!r} (one of {', '.join(TRIGGERS)})")
    with ledger.transaction() as c:
        cur = c.execute(
            'INSERT INTO sync_runs (started_at, "trigger", backend, status)'
            " VALUES (?, ?, ?, 'running')",
            (ts(at), trigger, backend),
        )
    assert cur.lastrowid is not None
    return cur.lastrowid


@guarded
def finish_run(
    ledger: Ledger,
    run_id: int,
    at: datetime,
    *,
    status: str,
    counts: Mapping[str, int],
    api_calls: int,
    error: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Record how a run ended (``ok`` or ``failed``), its counts, API calls, error and details.

    ``counts`` is keyed by the column names in COUNTS; a count left out stays NULL (the run
    never got that far). The finishing process has the last word, even over a run that
    ``fail_stale_runs`` already marked ``interrupted``.
    """
    if status not in FINAL_STATUSES:
        raise ValueError(f"a sync run ends 'ok' or 'failed', not {status!r}")
    unknown = sorted(set(counts) - set(COUNTS))
    if unknown:
        raise ValueError(f"unknown sync count(s): {', '.join(unknown)}")
    values = [counts.get(name) for name in COUNTS]
    text = json.dumps(dict(details or {}), ensure_ascii=False, sort_keys=True, default=str)
    with ledger.transaction() as c:
        cur = c.execute(_FINISH_SQL, (ts(at), status, *values, api_calls, error, text, run_id))
        if cur.rowcount == 0:
            raise LedgerError(f"{ledger.path}: no sync run {run_id}")


@guarded
def last_success(ledger: Ledger) -> datetime | None:
    """When the latest successful run ended, or None if none ever did."""
    row = ledger.conn.execute(
        "SELECT ended_at FROM sync_runs WHERE status = 'ok'"
        " ORDER BY started_at DESC, run_id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else parse_ts(row["ended_at"])


@guarded
def recent_runs(ledger: Ledger, limit: int = 10) -> list[SyncRun]:
    """The latest ``limit`` runs, newest first (a run still ``running`` included)."""
    rows = ledger.conn.execute(
        "SELECT * FROM sync_runs ORDER BY started_at DESC, run_id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_run(row) for row in rows]


@guarded
def running(ledger: Ledger) -> SyncRun | None:
    """The latest run still marked ``running`` (in progress, or cut short by a crash)."""
    row = ledger.conn.execute(
        "SELECT * FROM sync_runs WHERE status = 'running' ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _run(row)


@guarded
def fail_stale_runs(ledger: Ledger, at: datetime) -> int:
    """Mark every run still ``running`` as failed with error "interrupted" (at startup)."""
    with ledger.transaction() as c:
        cur = c.execute(
            "UPDATE sync_runs SET status = 'failed', ended_at = ?, error = ?"
            " WHERE status = 'running'",
            (ts(at), INTERRUPTED),
        )
    return cur.rowcount


# ---- members --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberSync:
    """What applying the member sheet changed.

    ``added``: new members; ``updated``: sheet rows that were already members (written again,
    changed or not, as an import does); ``removed``: members marked ``removed`` by this sync.
    ``guarded``: nobody was removed because the sheet looked truncated (no rows, or fewer
    than ``min_ratio`` of the ``active_before`` members not already removed).
    """

    added: int
    updated: int
    removed: tuple[str, ...]
    guarded: bool
    active_before: int
    sheet_rows: int


@guarded
def apply_members(
    ledger: Ledger, rows: Sequence[MemberRow], at: datetime, *, min_ratio: float = 0.5
) -> MemberSync:
    """Make the ledger's members follow the sheet, in one transaction.

    Every row is upserted as ``Ledger.upsert_members`` does (rental state, counts and
    history untouched; a removed member back in the sheet gets the sheet's status). Every
    member missing from the sheet is marked ``removed`` (never deleted), unless the sheet is
    empty or holds fewer than ``min_ratio`` times the members not removed before: then
    nobody is removed and ``guarded`` is set.
    """
    removed_status = str(MemberStatus.REMOVED)
    with ledger.transaction() as c:
        before = {
            row[0]
            for row in c.execute(
                "SELECT member_id FROM members WHERE status != ?", (removed_status,)
            )
        }
        result = write_members(c, rows, at)
        guarded = not rows or len(rows) < min_ratio * len(before)
        gone: list[str] = []
        if not guarded:
            in_sheet = {r.barcode for r in rows}
            gone = sorted(before - in_sheet)
            c.executemany(
                "UPDATE members SET status = ?, updated_at = ? WHERE member_id = ?",
                [(removed_status, ts(at), member_id) for member_id in gone],
            )
    return MemberSync(
        added=result.inserted,
        updated=result.updated,
        removed=tuple(gone),
        guarded=guarded,
        active_before=len(before),
        sheet_rows=len(rows),
    )


# ---- rentals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadRow:
    """A rental to upload, with the revision it was read at."""

    rental_id: int
    revision: int
    transaction_id: str
    device_id: str
    member_id: str
    member_name: str | None  # None only if the member row is missing (foreign keys off)
    locker_number: str
    created_at: datetime
    rental_sensor_time: datetime | None
    return_sensor_time: datetime | None
    return_actual_locker: str | None
    status: str
    error_code: str | None
    error_details: str | None
    updated_at: datetime


# The rentals drive the join (LEFT JOIN keeps them the outer loop), read through the partial
# index idx_rental_unsynced in rental_id order.
_UPLOAD_SQL = (
    "SELECT r.rental_id, r.revision, r.transaction_id, r.device_id, r.member_id,"
    " m.member_name, r.locker_number, r.created_at, r.rental_sensor_time,"
    " r.return_sensor_time, r.return_actual_locker, r.status, r.error_code, r.error_details,"
    " r.updated_at"
    " FROM rentals r LEFT JOIN members m ON m.member_id = r.member_id"
    " WHERE r.sync_status = 0 AND r.status != 'pending'"
    " ORDER BY r.rental_id"
)


def _required(text: str) -> datetime:
    value = parse_ts(text)
    assert value is not None  # NOT NULL columns
    return value


@guarded
def rentals_for_upload(ledger: Ledger) -> list[UploadRow]:
    """Every rental not yet uploaded (new or changed since), except pending ones, oldest first."""
    return [
        UploadRow(
            rental_id=row["rental_id"],
            revision=row["revision"],
            transaction_id=row["transaction_id"],
            device_id=row["device_id"],
            member_id=row["member_id"],
            member_name=row["member_name"],
            locker_number=row["locker_number"],
            created_at=_required(row["created_at"]),
            rental_sensor_time=parse_ts(row["rental_sensor_time"]),
            return_sensor_time=parse_ts(row["return_sensor_time"]),
            return_actual_locker=row["return_actual_locker"],
            status=row["status"],
            error_code=row["error_code"],
            error_details=row["error_details"],
            updated_at=_required(row["updated_at"]),
        )
        for row in ledger.conn.execute(_UPLOAD_SQL)
    ]


@guarded
def upload_query_plan(ledger: Ledger) -> list[str]:
    """EXPLAIN QUERY PLAN of ``rentals_for_upload`` (its detail lines), for checks and tests."""
    return [row["detail"] for row in ledger.conn.execute(f"EXPLAIN QUERY PLAN {_UPLOAD_SQL}")]


@guarded
def mark_revisions(ledger: Ledger, pairs: Iterable[tuple[int, int]]) -> int:
    """Set ``sync_status = 1`` on each (rental_id, revision) still at that revision.

    One transaction; a row changed since it was read has a higher revision, stays unsynced
    and goes out with the next upload. Returns how many rows were marked.
    """
    params = list(pairs)
    with ledger.transaction() as c:
        marked = 0
        for rental_id, revision in params:
            marked += c.execute(
                "UPDATE rentals SET sync_status = 1 WHERE rental_id = ? AND revision = ?",
                (rental_id, revision),
            ).rowcount
    return marked


@guarded
def mark_uploaded(ledger: Ledger, rows: Iterable[UploadRow]) -> int:
    """Mark uploaded rows synced, but only those nobody changed since they were read."""
    return mark_revisions(ledger, ((r.rental_id, r.revision) for r in rows))
