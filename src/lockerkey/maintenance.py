"""The ``lockerkey backup`` and ``lockerkey restore`` commands."""

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
