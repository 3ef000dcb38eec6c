"""The ``lockerkey backup``, ``lockerkey restore`` and ``lockerkey sync`` commands."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from lockerkey.config import Settings
from lockerkey.runlock import AlreadyRunning, RunLock
from lockerkey.store.backup import BackupError, is_raw_copy, restore_backup, take_backup
from lockerkey.store.ledger import Ledger, LedgerError

EXIT_OK, EXIT_FAIL = 0, 1


def _say(message: str) -> None:
    print(message)


def _err(message: str) -> None:
    print(f"lockerkey: {message}", file=sys.stderr)


def backup_command(settings: Settings) -> int:
    """Take a checked backup now, daemon running or not, and record it in the ledger."""
    now = datetime.now(UTC)
    try:
        # WAL mode lets this copy read while a running daemon writes; no run lock needed.
        result = take_backup(settings.db_path, settings.backup_dir, settings.backup.keep, now)
    except BackupError as err:
        _err(f"backup failed: {err}")
        return EXIT_FAIL
    _say(
        f"backup written: {result.path} ({result.size} bytes, {result.rentals} rentals, checked ok)"
    )
    for old in result.pruned:
        _say(f"removed old backup: {old}")
    try:
        # Safe beside a running daemon too: SQLite serialises writers, and both wait up to 5 s.
        ledger = Ledger.open(settings.db_path, settings.device_id)
        try:
            ledger.audit("backup", now, path=str(result.path), size=result.size)
        finally:
            ledger.close()
    except LedgerError as err:
        # The backup itself is written and checked; only its note in the ledger is missing.
        _err(f"the backup is good, but it could not be recorded in the ledger: {err}")
    return EXIT_OK


def restore_command(settings: Settings, file: Path) -> int:
    """Put a backup in place of the ledger while holding the run lock; refuse if the daemon runs."""
    lock = RunLock(settings.data_dir)
    try:
        # Taking the lock is the check: testing first and locking after would let a daemon
        # start in between. Held, it keeps the daemon from starting mid-restore.
        lock.acquire()
    except AlreadyRunning as err:
        who = f"pid {err.pid}" if err.pid else "a process"
        _err(
            f"the kiosk daemon is running ({who}, holding {err.path}); stop it first "
            "(e.g. sudo systemctl stop lockerkey), then restore; nothing was changed"
        )
        return EXIT_FAIL
    except OSError as err:
        _err(f"{lock.path}: cannot take the run lock: {err.strerror}; nothing was changed")
        return EXIT_FAIL
    try:
        return _restore(settings, file)
    finally:
        lock.release()


def _restore(settings: Settings, file: Path) -> int:
    now = datetime.now(UTC)
    try:
        safety = restore_backup(file, settings.db_path, settings.backup_dir, now)
    except BackupError as err:
        _err(f"restore failed: {err}")
        return EXIT_FAIL
    _say(f"restored {file} to {settings.db_path}")
    if safety is None:
        _say("there was no ledger to replace")
    elif is_raw_copy(safety):
        _say(
            f"the replaced ledger could not be read as a database; its raw files were saved "
            f"as {safety} (with any -wal/-shm beside it)"
        )
    else:
        _say(f"the replaced ledger was saved as {safety}")
    try:
        ledger = Ledger.open(settings.db_path, settings.device_id)
        try:
            ledger.audit(
                "restore", now, file=str(file), replaced=None if safety is None else str(safety)
            )
        finally:
            ledger.close()
    except LedgerError as err:
        _err(f"the backup is in place, but the ledger cannot be opened: {err}")
        return EXIT_FAIL
    return EXIT_OK


def sync_command(settings: Settings) -> int:
    """``lockerkey sync``: one run now; 0 when it completed (rows may have been skipped)."""
    from lockerkey.sync.backend import SyncError  # noqa: PLC0415
    from lockerkey.sync.schedule import SyncBusy, sync_once  # noqa: PLC0415

    where = settings.source or "the settings"
    if settings.sync.backend == "none":
        print(
            f'lockerkey: [sync] backend is "none" in {where}: set "gsheets" or "csv"',
            file=sys.stderr,
        )
        return 1
    try:
        outcome = sync_once(settings, "cli", lambda: datetime.now(UTC))
    except (SyncBusy, SyncError) as err:
        print(f"lockerkey: sync not run: {err}", file=sys.stderr)
        return 1
    if not outcome.ok:
        print(f"lockerkey: sync run {outcome.run_id} failed: {outcome.error}", file=sys.stderr)
        return 1
    c = outcome.counts
    print(
        f"sync run {outcome.run_id} ({settings.sync.backend}): members {c.get('members_read', 0)}"
        f" read, {c.get('members_added', 0)} added, {c.get('members_updated', 0)} updated,"
        f" {c.get('members_removed', 0)} deactivated, {c.get('bad_rows', 0)} rows skipped;"
        f" rentals {c.get('rentals_appended', 0)} appended, {c.get('rentals_updated', 0)}"
        f" updated; {outcome.api_calls} API calls"
    )
    if c.get("bad_rows"):
        print("skipped rows are listed in the sync_report sheet (and above)")
    if outcome.guarded:
        print(f"warning: {outcome.guarded}")
    return 0
