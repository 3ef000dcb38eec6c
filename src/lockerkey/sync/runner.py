"""One sync run: the member master in, the report back, the rental records out.

It runs on a thread of its own with its own ledger connection (SQLite in WAL mode lets the
kiosk go on renting meanwhile); every step is recorded in ``sync_runs``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lockerkey.config import Settings
from lockerkey.store import sync_store
from lockerkey.store.ledger import Ledger, LedgerError
from lockerkey.sync.backend import Backend, SyncError, SyncRefused
from lockerkey.sync.csv_members import MembersFileError, members_from_table
from lockerkey.sync.sheet_rows import RentalLine, local_text, plan_rentals, report_table

log = logging.getLogger("lockerkey.sync")


@dataclass
class Outcome:
    """What a run did (also what ``sync_runs`` records)."""

    run_id: int
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    error: str | None = None
    guarded: str | None = None  # why nobody was deactivated, when the guard held


def make_backend(settings: Settings) -> Backend:
    """The configured backend (gspread is imported only when it is used)."""
    sync = settings.sync
    if sync.backend == "csv":
        from lockerkey.sync.csv_backend import CsvFiles  # noqa: PLC0415

        return CsvFiles(sync.members_csv, sync.rentals_csv)
    if sync.backend == "gsheets":
        from lockerkey.sync.gsheets import GoogleSheets  # noqa: PLC0415

        return GoogleSheets(
            sync.credentials,
            sync.members_spreadsheet,
            sync.members_worksheet,
            sync.rentals_spreadsheet,
            sync.rentals_worksheet,
            api_endpoint=sync.api_endpoint,
        )
    raise SyncRefused('[sync] backend = "none": nothing to synchronise with')


def run_sync(
    settings: Settings,
    ledger: Ledger,
    backend: Backend,
    trigger: str,
    now: Callable[[], datetime],
) -> Outcome:
    """Run one sync to the end; never raises for a sheet or network problem (it is recorded)."""
    run_id = sync_store.start_run(ledger, trigger, backend.name, now())
    outcome = Outcome(run_id, ok=False)
    details: dict[str, object] = {}
    errors: list[str] = []
    try:
        try:
            _members(settings, ledger, backend, outcome, details, now)
        except (SyncRefused, MembersFileError) as err:
            # A member sheet someone broke (a header renamed, say) needs a person; the rental
            # records can still go up meanwhile, so the run goes on before it fails.
            errors.append(f"members: {err}")
        _rentals(settings, ledger, backend, outcome)
    except SyncError as err:
        errors.append(str(err))
    except LedgerError as err:
        errors.append(f"the ledger: {err}")
    outcome.ok = not errors
    outcome.error = "; ".join(errors) or None
    outcome.api_calls = backend.api_calls
    if outcome.guarded:
        details["guard"] = outcome.guarded
    sync_store.finish_run(
        ledger,
        run_id,
        now(),
        status="ok" if outcome.ok else "failed",
        counts=outcome.counts,
        api_calls=outcome.api_calls,
        error=outcome.error,
        details=details,
    )
    _log(outcome)
    return outcome


def _members(
    settings: Settings,
    ledger: Ledger,
    backend: Backend,
    outcome: Outcome,
    details: dict[str, object],
    now: Callable[[], datetime],
) -> None:
    table = backend.read_members()
    rows, problems = members_from_table(table, f"members sheet ({backend.name})")
    done = sync_store.apply_members(ledger, rows, now())
    outcome.counts.update(
        members_read=len(rows) + len(problems),
        members_added=done.added,
        members_updated=done.updated,
        members_removed=len(done.removed),
        bad_rows=len(problems),
    )
    details["bad_rows"] = [
        {"row": p.row, "barcode": p.barcode, "reason": p.reason} for p in problems
    ]
    notes = []
    if done.guarded:
        outcome.guarded = (
            f"the sheet has {done.sheet_rows} valid member rows against {done.active_before}"
            " members before this sync: nobody was deactivated (was the sheet cleared by"
            " mistake?)"
        )
        notes.append(outcome.guarded)
        log.warning("sync: %s", outcome.guarded)
        ledger.audit(
            "sync_mass_removal_blocked",
            now(),
            sheet_rows=done.sheet_rows,
            members_before=done.active_before,
        )
    if done.removed:
        details["removed"] = list(done.removed)
    for problem in problems:
        log.warning(
            "sync: members row %d (%s) skipped: %s", problem.row, problem.barcode, problem.reason
        )
    checked = local_text(now(), settings.timezone)
    backend.write_report(report_table(problems, checked, notes))


def _rentals(settings: Settings, ledger: Ledger, backend: Backend, outcome: Outcome) -> None:
    uploads = sync_store.rentals_for_upload(ledger)
    sheet = backend.read_rentals()
    tz = settings.timezone
    lines = [
        RentalLine(
            r.transaction_id,
            r.device_id,
            {
                "transaction_id": r.transaction_id,
                "device_id": r.device_id,
                "member_id": r.member_id,
                "member_name": r.member_name or "",
                "locker": r.locker_number,
                "rented_at": local_text(r.rental_sensor_time or r.created_at, tz),
                "returned_at": local_text(r.return_sensor_time, tz),
                "status": r.status,
                "error_code": r.error_code or "",
                "error_details": r.error_details or "",
                "return_locker": r.return_actual_locker or "",
                "updated_at": local_text(r.updated_at, tz),
            },
        )
        for r in uploads
    ]
    plan = plan_rentals(sheet, lines, settings.device_id)
    if plan.header is not None or plan.appends or plan.updates:
        backend.write_rentals(plan.header, plan.appends, plan.updates)
    # Marked only after the sheet has them; a crash before this line is reconciled next time
    # by transaction_id (an update, never a second row).
    sync_store.mark_uploaded(ledger, uploads)
    outcome.counts.update(rentals_appended=len(plan.appends), rentals_updated=len(plan.updates))


def _log(outcome: Outcome) -> None:
    counts = " ".join(f"{k}={v}" for k, v in outcome.counts.items())
    if outcome.ok:
        log.info("sync run %d done: %s api_calls=%d", outcome.run_id, counts, outcome.api_calls)
    else:
        log.error(
            "sync run %d failed: %s (%s api_calls=%d)",
            outcome.run_id,
            outcome.error,
            counts or "nothing done",
            outcome.api_calls,
        )
